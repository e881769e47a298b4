"""The sink extension point: batches of rows with their origins, retries, backpressure.

A sink writes rows into named tables. Every row carries the Kafka position it came
from (:class:`Origin`): the idempotency key of the write and the address of the
record to dead-letter when the store refuses the row. :meth:`BatchingSink.write`
returns only when each row of the batch is written or rejected:

- a *transient* failure (store unreachable, overloaded, timing out) is retried with
  exponential backoff for as long as it lasts. The caller (a Faust agent) does not
  move on, so its events stay unacknowledged and their offsets uncommitted; Kafka
  holds the data meanwhile: backpressure, never a drop;
- a *data* failure (a value the store refuses) is retried ``data_retries`` times,
  then the batch is split in halves until the refused rows are isolated; those come
  back as :class:`Rejected` for the caller to dead-letter, the others are written.

Batches are cut by size and by time (:class:`BatchPolicy`: Faust's
``stream.take_events(max_rows, within=max_age_s)`` in the sink agent).

>>> batch = Batch()
>>> batch.add("t", ("a",), Origin("events", 0, 5)); batch.add("t", ("b",), Origin("events", 0, 6))
>>> len(batch), token("t", batch.tables["t"].origins)
(2, 't:events:0:5-6')
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sinks import metrics
from streams.core.errors import RapportError
from streams.core.metrics import SINK_STAGE

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
MAX_TOKEN_CHARS = 200
LATENCY_SAMPLES = 100
"""Rows of one write observed in the sink stage latency, at most."""


class SinkError(RapportError):
    """A sink cannot do what was asked: bad query, unknown table, broken schema."""


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Where a row came from: one Kafka record."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row the store refused, with a stable reason code and a specific reason."""

    origin: Origin
    table: str
    reason_code: str
    reason: str


@dataclass(frozen=True)
class BatchPolicy:
    """Flush when ``max_rows`` records are buffered or ``max_age_s`` has passed."""

    max_rows: int = 5000
    max_age_s: float = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff ``base_s * 2**attempt`` (jittered, capped at ``max_s``)."""

    base_s: float = 0.5
    max_s: float = 30.0
    data_retries: int = 2

    def delay(self, attempt: int) -> float:
        """The pause before retry ``attempt`` (1-based).

        >>> RetryPolicy(base_s=1, max_s=5).delay(10) <= 5
        True
        """
        capped = min(self.max_s, self.base_s * 2 ** min(attempt - 1, 30))
        return float(capped * random.uniform(0.5, 1.0))


@dataclass
class TableRows:
    rows: list[Row] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)


@dataclass
class Batch:
    """Rows for one flush, grouped by table, each with its origin."""

    tables: dict[str, TableRows] = field(default_factory=dict)

    def add(self, table: str, row: Row, origin: Origin) -> None:
        part = self.tables.get(table)
        if part is None:
            part = self.tables[table] = TableRows()
        part.rows.append(row)
        part.origins.append(origin)

    def __len__(self) -> int:
        return sum(len(part.rows) for part in self.tables.values())


def token(table: str, origins: Sequence[Origin]) -> str:
    """A deduplication token naming exactly these origins: same rows, same token."""
    offsets: dict[tuple[str, int], list[int]] = {}
    for origin in origins:
        key = (origin.topic, origin.partition)
        found = offsets.get(key)
        if found is None:
            offsets[key] = [origin.offset]
        else:
            found.append(origin.offset)
    parts = []
    for topic, in_topic in groupby(sorted(offsets), key=lambda tp: tp[0]):
        runs = [f"{p}:{_ranges(sorted(set(offsets[(topic, p)])))}" for _, p in in_topic]
        parts.append(f"{topic}:{','.join(runs)}")
    text = f"{table}:{';'.join(parts)}"
    if len(text) > MAX_TOKEN_CHARS:
        text = f"{table}:sha256:{hashlib.sha256(text.encode()).hexdigest()}"
    return text


def _ranges(offsets: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``'1-3+7'`` (sorted input)."""
    out: list[str] = []
    start = prev = offsets[0]
    for off in offsets[1:]:
        if off != prev + 1:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = off
        prev = off
    out.append(f"{start}-{prev}" if prev != start else str(start))
    return "+".join(out)


class BatchingSink(ABC):
    """Retry, backoff and row isolation around one store's ``insert``."""

    name = "sink"

    def __init__(self, retry: RetryPolicy) -> None:
        self.retry = retry
        self.time_columns: dict[str, int] = {}
        """Per table, the position of its event time (epoch ms) in a row: the rows
        written are observed in ``rapport_stage_latency_seconds{stage="sink"}``."""
        self.backlog = 0
        """Rows in writes being retried (``rapport_sink_retry_backlog_rows``)."""
        metrics.RETRY_BACKLOG.labels(self.name).set(0)

    @abstractmethod
    async def insert(self, table: str, rows: list[Row], origins: list[Origin]) -> list[Rejected]:
        """Write rows idempotently; return the rows refused before writing; raise on failure."""

    @abstractmethod
    def is_data_error(self, exc: Exception) -> bool:
        """True when ``exc`` blames the rows (retrying cannot help), not the store."""

    async def write(self, batch: Batch) -> list[Rejected]:
        """Write every row or reject it; wait out transient failures (backpressure)."""
        rejected: list[Rejected] = []
        for table, part in batch.tables.items():
            rejected += await self._write_isolating(table, part.rows, part.origins)
        return rejected

    async def _write_isolating(
        self, table: str, rows: list[Row], origins: list[Origin]
    ) -> list[Rejected]:
        if not rows:
            return []
        error = await self._attempt(table, rows, origins)
        if isinstance(error, list):
            return error
        if len(rows) == 1:
            metrics.REJECTED.labels(self.name, table, "store_rejected").inc()
            reason = f"{table}: {type(error).__name__}: {_first_line(error)}"
            return [Rejected(origins[0], table, "store_rejected", reason)]
        mid = len(rows) // 2
        log.info(
            "%s refused a batch of %d rows for %s: splitting to isolate the bad rows",
            self.name,
            len(rows),
            table,
        )
        left = await self._write_isolating(table, rows[:mid], origins[:mid])
        return left + await self._write_isolating(table, rows[mid:], origins[mid:])

    async def _attempt(
        self, table: str, rows: list[Row], origins: list[Origin]
    ) -> list[Rejected] | Exception:
        """Rejections on success; the data error once ``data_retries`` are spent. From
        the first failure to the outcome, the rows count in the retry backlog."""
        data_failures = transient = 0
        try:
            while True:
                try:
                    rejected = await self.insert(table, rows, origins)
                except Exception as exc:  # classified right below
                    if not data_failures + transient:
                        self._hold(len(rows))
                    if self.is_data_error(exc):
                        data_failures += 1
                        metrics.RETRIES.labels(self.name, "data").inc()
                        if data_failures > self.retry.data_retries:
                            return exc
                        delay = self.retry.delay(data_failures)
                    else:
                        transient += 1
                        metrics.RETRIES.labels(self.name, "transient").inc()
                        metrics.UP.labels(self.name).set(0)
                        delay = self.retry.delay(transient)
                    log.warning(
                        "%s insert of %d rows into %s failed (%s: %s); retry in %.1fs",
                        self.name,
                        len(rows),
                        table,
                        type(exc).__name__,
                        _first_line(exc),
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                metrics.UP.labels(self.name).set(1)
                metrics.ROWS.labels(self.name, table).inc(len(rows) - len(rejected))
                self._observe_written(table, rows, origins, rejected)
                return rejected
        finally:
            if data_failures + transient:
                self._hold(-len(rows))

    def _hold(self, rows: int) -> None:
        self.backlog += rows
        metrics.RETRY_BACKLOG.labels(self.name).set(self.backlog)

    def _observe_written(
        self, table: str, rows: list[Row], origins: list[Origin], rejected: list[Rejected]
    ) -> None:
        """Event time to written, for at most ``LATENCY_SAMPLES`` evenly spaced rows of
        the write (an observation costs microseconds; a batch holds thousands of rows)."""
        column = self.time_columns.get(table)
        if column is None:
            return
        refused = {r.origin for r in rejected}
        now_ms = time.time() * 1000
        step = max(1, len(rows) // LATENCY_SAMPLES)
        for row, origin in zip(rows[::step], origins[::step], strict=True):
            at = row[column]
            if isinstance(at, int) and origin not in refused:
                SINK_STAGE.observe(max(0.0, (now_ms - at) / 1000))

    async def retrying(self, what: str, op: Any, *args: Any) -> Any:
        """Run ``await op(*args)``, retrying every failure with backoff (never gives up)."""
        attempt = 0
        while True:
            try:
                return await op(*args)
            except Exception as exc:  # logged, counted, retried
                attempt += 1
                metrics.RETRIES.labels(self.name, "transient").inc()
                metrics.UP.labels(self.name).set(0)
                delay = self.retry.delay(attempt)
                log.warning(
                    "%s %s failed (%s: %s); retry in %.1fs",
                    self.name,
                    what,
                    type(exc).__name__,
                    _first_line(exc),
                    delay,
                )
                await asyncio.sleep(delay)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else repr(exc)
