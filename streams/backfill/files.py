"""The rows of the user's file, numbered, in groups: CSV (with a header) or JSON Lines.

Rows are numbered from 1 (the first data row; a CSV's header is not a row). A CSV must
have every column the mapping reads, checked on its header before any row is read; a
JSON Lines row may lack some (its cells count as empty). A line that is not a JSON
object is a :class:`~streams.backfill.convert.Refused` row (``invalid_json``), not
the end of the import. With ``group_by``, consecutive rows with the same value of
that column form one group (an order and its line items), else each row is a group.

>>> import io
>>> text = io.StringIO("Name,Sku\\n#1,a\\n#1,b\\n#2,c\\n")
>>> [[n for n, _ in g] for g in groups(csv_rows(text, {"Name", "Sku"}), "Name")]
[[1, 2], [3]]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson

from streams.backfill.convert import Refused, Row
from streams.backfill.mapping import FORMATS, Mapping, MappingError

Numbered = tuple[int, Row]


def file_format(path: Path, mapping: Mapping) -> str:
    """The mapping's ``format``, else the file's extension."""
    if mapping.format:
        return mapping.format
    suffix = path.suffix.lower().lstrip(".")
    found = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}.get(suffix)
    if found is None:
        msg = f"{path}: cannot tell the format from its name; set format ({', '.join(FORMATS)})"
        raise MappingError(msg)
    return found


def read_rows(path: Path, mapping: Mapping) -> Iterator[Numbered | Refused]:
    """Every row of the file, numbered (or refused, for JSON Lines)."""
    fmt = file_format(path, mapping)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if fmt == "csv":
            yield from csv_rows(handle, mapping.columns(), where=str(path))
        else:
            yield from jsonl_rows(handle)


def csv_rows(handle: TextIO, columns: set[str], where: str = "file") -> Iterator[Numbered]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    missing = sorted(columns - set(header))
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        raise MappingError(f"{where}: no column {shown} (its columns: {', '.join(header)})")
    for number, row in enumerate(reader, start=1):
        yield number, dict(row)


def jsonl_rows(handle: TextIO | io.StringIO) -> Iterator[Numbered | Refused]:
    number = 0
    for line in handle:
        if not line.strip():
            continue
        number += 1
        try:
            value: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Refused(number, "invalid_json", f"row {number}: not JSON ({exc})")
            continue
        if not isinstance(value, dict):
            yield Refused(number, "invalid_json", f"row {number}: not a JSON object")
            continue
        yield number, value


def groups(
    rows: Iterable[Numbered | Refused], group_by: str | None
) -> Iterator[list[Numbered] | Refused]:
    """Rows in groups: consecutive rows with the same ``group_by`` value, or one each."""
    current: list[Numbered] = []
    key: Any = None
    for item in rows:
        if isinstance(item, Refused):
            yield item
            continue
        if group_by is None:
            yield [item]
            continue
        value = item[1].get(group_by)
        if current and value == key and value not in (None, ""):
            current.append(item)
            continue
        if current:
            yield current
        current, key = [item], value
    if current:
        yield current
