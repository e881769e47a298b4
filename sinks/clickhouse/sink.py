"""The ClickHouse sink: one code path for chDB (in-process) and a server, via clickhouse-connect.

- Idempotent: base tables are ``ReplacingMergeTree`` keyed by each record's stable id
  (read them with ``FINAL``), and every insert carries a deduplication token naming
  its rows' Kafka positions, so the same batch inserted twice is stored once.
- Blocking calls run on one writer thread (inserts and erasures in order) and one
  reader thread (``rapport sql``), never on the event loop.
- Erasure (:mod:`sinks.clickhouse.erasure`): runs on the writer thread too, so no insert slips
  between updating the erased set and deleting; inserts drop rows it refuses.
- chDB allows one process per path: the worker that owns the path serves read-only
  queries for ``rapport sql`` through :meth:`ClickHouseSink.query`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final, TypeVar

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError, DataError

from sinks import metrics
from sinks.base import BatchingSink, Origin, Rejected, RetryPolicy, Row, SinkError, token
from sinks.clickhouse.columns import TableSpec, misfits
from sinks.clickhouse.erasure import ErasedSet, erase, known_events
from sinks.clickhouse.migrations import migrate
from sinks.clickhouse.rows import Erasure
from sinks.clickhouse.sql import check_readonly
from sinks.clickhouse.tables import TABLES

log = logging.getLogger(__name__)
T = TypeVar("T")

DATA_ERROR_CODES: Final = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 349})
"""ClickHouse errors that blame the inserted values (parse, type, range, NULL)."""
_CODE: Final = re.compile(r"Code: (\d+)\.")
INSERT_SETTINGS: Final = {"optimize_on_insert": 0, "parallel_view_processing": 1}
"""Rows of a batch are not collapsed at insert (``FINAL`` does it at read; a block has
few duplicates, if any): twice the insert rate. Materialized views run in parallel.
Session settings of the writer connection (per-insert settings cost chDB two queries each)."""


@dataclass(frozen=True)
class QueryLimits:
    """Limits of the read-only connection behind ``rapport sql``."""

    max_rows: int = 10_000
    timeout_s: float = 30.0


def error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


class ClickHouseSink(BatchingSink):
    """Batched, idempotent inserts, erasure and read-only queries on one ClickHouse."""

    name = "clickhouse"

    def __init__(
        self,
        url: str,
        database: str,
        retry: RetryPolicy,
        *,
        erasure_refresh_s: float = 10.0,
        limits: QueryLimits | None = None,
    ) -> None:
        super().__init__(retry)
        self.url = url
        self.database = database
        self.limits = limits or QueryLimits()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="clickhouse-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="clickhouse-reader")
        self._client: Any = None
        self._read_client: Any = None
        self.erased = ErasedSet(erasure_refresh_s)
        self._opened: asyncio.Event | None = None
        self._opening = False

    # --- lifecycle
    async def open(self) -> None:
        """Connect and migrate once; waits (retrying) while ClickHouse is unreachable."""
        if self._opened is None:
            self._opened = asyncio.Event()
        if self._opening or self._opened.is_set():
            await self._opened.wait()
            return
        self._opening = True
        try:
            await self.retrying("open", self._on_writer, self.open_sync)
        finally:
            self._opening = False
        self._opened.set()

    def open_sync(self) -> None:
        if self._client is not None:
            return
        client = clickhouse_connect.get_client(dsn=self.url, settings=INSERT_SETTINGS)
        client.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        client.database = self.database
        migrate(client)
        self._client = client
        self._read_client = clickhouse_connect.get_client(
            dsn=self.url, database=self.database, settings=self.reader_settings()
        )
        self.erased.refresh(client, force=True)
        log.info("ClickHouse sink ready: database %s at %s", self.database, self.url.split("@")[-1])

    def close(self) -> None:
        for client in (self._read_client, self._client):
            if client is not None:
                client.close()
        self._client = self._read_client = None
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    async def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    # --- BatchingSink
    async def insert(self, table: str, rows: list[Row], origins: list[Origin]) -> list[Rejected]:
        return await self._on_writer(self.insert_sync, table, rows, origins)

    def is_data_error(self, exc: Exception) -> bool:
        """ClickHouse errors blame the rows by code; the store being unreachable or failing
        otherwise is transient; any other error (raised encoding the rows) blames the rows."""
        if isinstance(exc, DataError):
            return True
        if isinstance(exc, DatabaseError):
            return error_code(exc) in DATA_ERROR_CODES
        return not isinstance(exc, OSError | TimeoutError)

    def insert_sync(self, table: str, rows: list[Row], origins: list[Origin]) -> list[Rejected]:
        """Drop erased customers' rows, reject misfits, insert the rest with a dedup token."""
        spec = TABLES[table]
        if self._client is None:
            raise SinkError("the ClickHouse sink is not open")
        rows, origins = self._admit(spec, rows, origins)
        if not rows:
            return []
        data = [list(map(itemgetter(j), rows)) for j in range(len(spec.columns))]
        bad = misfits(table, spec.columns, data)
        rejected = [Rejected(origins[i], table, "column_overflow", why) for i, why in bad.items()]
        if bad:
            keep = [i for i in range(len(rows)) if i not in bad]
            origins = [origins[i] for i in keep]
            data = [[col[i] for i in keep] for col in data]
            for r in rejected:
                metrics.REJECTED.labels(self.name, table, r.reason_code).inc()
        if origins:
            self._client.insert(
                table,
                data,
                column_names=spec.names,
                column_oriented=True,
                settings={"insert_deduplication_token": token(table, origins)},
            )
        return rejected

    def _admit(
        self, spec: TableSpec, rows: list[Row], origins: list[Origin]
    ) -> tuple[list[Row], list[Origin]]:
        """Rows whose customer was erased at or after their event time are refused."""
        self.erased.refresh(self._client)
        ci, ti = spec.index(spec.customer_column), spec.index(spec.time_column)
        if ci is None or ti is None:
            return rows, origins
        keep = self.erased.admit(rows, customer=ci, time=None if spec.erase_any_time else ti)
        ri = spec.index(spec.request_column)
        if ri is not None and self.erased.erased:
            keep = self._with_known_requests(rows, keep, ci, ri)
        if len(keep) == len(rows):
            return rows, origins
        metrics.ERASED_DROPS.labels(spec.name).inc(len(rows) - len(keep))
        return [rows[i] for i in keep], [origins[i] for i in keep]

    def _with_known_requests(self, rows: list[Row], keep: list[int], ci: int, ri: int) -> list[int]:
        """Of an erased customer's rows, only those answering an admitted event stay."""
        suspects = self.erased.of_erased(rows, keep, ci)
        if not suspects:
            return keep
        known = known_events(
            self._client, [rows[i][ci] for i in suspects], [rows[i][ri] for i in suspects]
        )
        refused = {i for i in suspects if rows[i][ri] not in known}
        return [i for i in keep if i not in refused]

    async def erase(self, request: Erasure) -> dict[str, int]:
        """Delete the customer everywhere, audit it, refuse its older rows from now on."""
        deleted: dict[str, int] = await self.retrying(
            "erasure", self._on_writer, erase, self._client, self.erased, request
        )
        return deleted

    # --- read-only queries
    def reader_settings(self) -> dict[str, Any]:
        """``final`` first: once ``readonly`` is set, no setting can change."""
        return {
            "final": 1,
            "max_result_rows": self.limits.max_rows,
            "result_overflow_mode": "break",
            "max_execution_time": int(self.limits.timeout_s),
            "readonly": 1,
        }

    def query_direct(self, sql: str, fmt: str) -> bytes:
        """One read-only query on a connection of its own, without opening the sink.

        For a ClickHouse server, or a chDB path no running process owns.
        """
        statement = check_readonly(sql)
        client = clickhouse_connect.get_client(
            dsn=self.url, database=self.database, settings=self.reader_settings()
        )
        try:
            answer: bytes = client.raw_query(statement, fmt=fmt)
        finally:
            client.close()
        return answer

    async def query(self, sql: str, fmt: str) -> bytes:
        """Run one read-only statement; the answer in ClickHouse format ``fmt``."""
        statement = check_readonly(sql)
        await self.open()
        loop = asyncio.get_running_loop()
        answer: bytes = await loop.run_in_executor(
            self._reader, lambda: self._read_client.raw_query(statement, fmt=fmt)
        )
        return answer
