"""The read-only gate of ``rapport sql``: one statement, of a reading kind, in a known format.

The gate gives a clear message; the guarantee is the connection's ``readonly = 1``
setting, under which ClickHouse itself refuses every write and settings change.

>>> check_readonly("  -- KPIs\\n WITH 1 AS x SELECT x;")
'WITH 1 AS x SELECT x'
>>> check_readonly("DROP TABLE interactions")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sinks.base.SinkError: read-only: only SELECT, WITH, ... are allowed, got DROP
>>> check_readonly("SELECT 1; SELECT 2")
Traceback (most recent call last):
...
sinks.base.SinkError: one statement at a time: found ';' inside the query
"""

from __future__ import annotations

import re
from typing import Final, Literal

from sinks.base import SinkError

READING: Final = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS")
OutputFormat = Literal["table", "csv", "json"]
FORMATS: Final[dict[str, str]] = {
    "table": "JSONCompact",
    "csv": "CSVWithNames",
    "json": "JSONEachRow",
}
"""``rapport sql --format`` -> the ClickHouse output format the worker answers in."""
_COMMENTS: Final = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRINGS: Final = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")
MAX_QUERY_CHARS: Final = 100_000


def check_readonly(sql: str) -> str:
    """The statement without comments or a trailing ``;``; raises SinkError if not reading."""
    if len(sql) > MAX_QUERY_CHARS:
        raise SinkError(f"query too long: {len(sql)} characters (limit {MAX_QUERY_CHARS})")
    text = _COMMENTS.sub(" ", sql).strip().rstrip(";").strip()
    if not text:
        raise SinkError("empty query")
    if ";" in _STRINGS.sub("''", text):
        raise SinkError("one statement at a time: found ';' inside the query")
    first = text.split(None, 1)[0].upper().rstrip("(")
    if first not in READING:
        allowed = ", ".join(READING)
        raise SinkError(f"read-only: only {allowed} are allowed, got {first[:40]}")
    return text


def clickhouse_format(name: str) -> str:
    """The ClickHouse format for an output name.

    >>> clickhouse_format("csv")
    'CSVWithNames'
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise SinkError(f"unknown format {name!r}: choose from {', '.join(FORMATS)}") from None
