"""``/sql`` on the worker that owns the ClickHouse (chDB) path: read-only queries for analysts.

``GET /sql?query=...&format=table|csv|json`` or ``POST /sql`` with a JSON body
``{"query": "...", "format": "..."}``. The answer is ClickHouse's own output
(JSONCompact, CSVWithNames or JSONEachRow); errors are JSON ``{"error": "..."}``
with status 400 (the query) or 503 (the store). Queries run with ``readonly = 1``
and ``final = 1`` (replacing tables read deduplicated) on the sink's reader thread.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from clickhouse_connect.driver.exceptions import DatabaseError
from faust.web import Request, Response, View

from sinks.base import SinkError
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.sql import clickhouse_format
from streams.core.runtime import Runtime

log = logging.getLogger(__name__)
CONTENT_TYPES = {
    "JSONCompact": "application/json",
    "JSONEachRow": "application/x-ndjson",
    "CSVWithNames": "text/csv",
}


async def answer(sink: ClickHouseSink, query: str, output: str) -> tuple[int, bytes, str]:
    """(status, body, content type) for one query."""
    try:
        fmt = clickhouse_format(output)
        body = await sink.query(query, fmt)
    except SinkError as exc:
        return 400, _error(str(exc)), "application/json"
    except DatabaseError as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        return 400, _error(text), "application/json"
    except Exception as exc:
        log.exception("/sql failed")
        return 503, _error(f"{type(exc).__name__}: {exc}"), "application/json"
    return 200, body, CONTENT_TYPES[fmt]


def _error(text: str) -> bytes:
    return orjson.dumps({"error": text})


def register(runtime: Runtime, sink: ClickHouseSink) -> None:
    app = runtime.app

    @app.page("/sql")
    class Sql(View):
        async def get(self, request: Request) -> Response:
            params: Any = request.query
            return await self._reply(
                str(params.get("query", "")), str(params.get("format", "table"))
            )

        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return self.error(400, 'expected a JSON body {"query": "...", "format": "..."}')
            return await self._reply(str(body.get("query", "")), str(body.get("format", "table")))

        async def _reply(self, query: str, output: str) -> Response:
            status, body, content_type = await answer(sink, query, output)
            return self.bytes(body, status=status, content_type=content_type)
