"""``rapport sql`` (read-only queries for analysts) and ``rapport bench sink``.

chDB allows one process per data path, and the running worker owns it: ``rapport
sql`` therefore sends the query to that worker's ``/sql`` endpoint (the one named by
the chDB writer lease, :mod:`streams.core.sink_lease`: a ``rapport sink`` beside
processing workers; else ``RAPPORT_WEB_HOST:RAPPORT_WEB_PORT``), which runs it
with ``readonly = 1`` and ``final = 1`` while the engine keeps writing. ``--direct``
opens ``RAPPORT_CLICKHOUSE_DSN`` itself instead: for a ClickHouse server, or for a
chDB path no running worker owns.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sinks.base import SinkError
from sinks.clickhouse.queries import EXAMPLES
from sinks.clickhouse.sql import FORMATS, clickhouse_format
from streams.core.settings import Settings
from streams.core.sink_lease import writer_url

Handler = Callable[[argparse.Namespace, Settings], int]
HELP = "read-only SQL on ClickHouse (through the running worker: chDB allows one process per path)"


def worker_url(settings: Settings) -> str:
    """The worker's web address from the settings (a wildcard bind is reached on loopback).

    >>> worker_url(Settings(_env_file=None, web_host="0.0.0.0", web_port=7000))
    'http://127.0.0.1:7000'
    """
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    return f"http://{host}:{settings.web_port}"


def client_token(settings: Settings) -> str | None:
    """The token the CLI sends (``RAPPORT_WEB_TOKEN``), if any."""
    return None if settings.web_token is None else settings.web_token.get_secret_value()


def auth_headers(token: str | None) -> dict[str, str]:
    return {} if not token else {"Authorization": f"Bearer {token}"}


def ask_worker(
    url: str, query: str, output: str, timeout: float, token: str | None = None
) -> bytes:
    """POST the query to ``{url}/sql`` (with ``token``, when the API asks for one); the
    body of a 200, else a SinkError with the reason."""
    if not url.startswith(("http://", "https://")):
        raise SinkError(f"--url must be http(s)://host:port, got {url!r}")
    body = json.dumps({"query": query, "format": output}).encode()
    headers = {"Content-Type": "application/json", **auth_headers(token)}
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{url}/sql", data=body, method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - our URL
            answer: bytes = resp.read()
            return answer
    except urllib.error.HTTPError as exc:
        raise SinkError(_error_text(exc.read(), exc.code)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = (
            f"no worker answers at {url} ({reason}): chDB allows one process per path, so "
            "`rapport sql` queries through a running worker (`rapport worker`, or set "
            "--url / RAPPORT_WEB_PORT); for a ClickHouse server DSN use --direct"
        )
        raise SinkError(msg) from None


def _error_text(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {body[:300].decode(errors='replace')}"


def render_table(answer: bytes, console: Console) -> int:
    """Print a JSONCompact answer as a table; the number of rows."""
    doc = json.loads(answer)
    table = Table(show_lines=False, header_style="bold")
    for column in doc["meta"]:
        numeric = any(k in column["type"] for k in ("Int", "Float", "Decimal"))
        table.add_column(column["name"], justify="right" if numeric else "left")
    for row in doc["data"]:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    stats = doc.get("statistics", {})
    console.print(
        f"{doc.get('rows', len(doc['data']))} rows in {stats.get('elapsed', 0):.3f}s", style="dim"
    )
    return len(doc["data"])


def _cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    if args.examples:
        for name, (doc, sql) in EXAMPLES.items():
            print(f"-- {name}: {doc}\n{sql};\n")
        return 0
    if not args.query:
        raise SinkError('give a query, e.g. rapport sql "SELECT count() FROM interactions"')
    if args.direct:
        from agents.sink import build_sink  # noqa: PLC0415

        answer = build_sink(settings).query_direct(args.query, clickhouse_format(args.format))
    else:
        url = (args.url or writer_url(settings) or worker_url(settings)).rstrip("/")
        timeout = settings.clickhouse_sql_timeout_s + 10
        answer = ask_worker(url, args.query, args.format, timeout, client_token(settings))
    if args.format == "table":
        render_table(answer, Console())
    else:
        sys.stdout.write(answer.decode())
    return 0


def bench_sink(args: argparse.Namespace, settings: Settings) -> int:
    """``rapport bench sink``: rows/s into chDB for 1k, 10k and 100k-row batches."""
    from streams.bench import sink as bench  # noqa: PLC0415

    print("rapport bench sink: interactions rows into chDB (a temporary path), 3 runs each")
    results, convert_rate = bench.main()
    print(bench.report(results, convert_rate))
    out = Path(args.json).with_name("sink.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"results": [r.__dict__ for r in results], "convert_rows_per_s": convert_rate}, indent=2
        )
    )
    print(f"written to {out}")
    return 0


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    sql = sub.add_parser(
        "sql", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sql.add_argument("query", nargs="?", help="one SELECT, WITH, SHOW, DESCRIBE or EXPLAIN")
    sql.add_argument(
        "--format",
        choices=list(FORMATS),
        default="table",
        help="table (default), csv (with a header) or json (one object per line)",
    )
    sql.add_argument(
        "--url",
        default=None,
        help="worker base URL (default: the chDB writer, e.g. `rapport sink`, else RAPPORT_WEB_*)",
    )
    sql.add_argument(
        "--direct",
        action="store_true",
        help="query RAPPORT_CLICKHOUSE_DSN directly, not through a worker",
    )
    sql.add_argument("--examples", action="store_true", help="print the documented queries")
    handlers["sql"] = _cmd_sql
