"""``rapport bench sink``: rows/s of the ClickHouse sink into chDB, beside raw inserts.

Same rows (synthetic events converted once, before timing), three ways, each batch
size on a fresh chDB path of its own process:

- ``sink``: :meth:`ClickHouseSink.write` into ``interactions`` (erased-set filter,
  column fit checks, deduplication token, three materialized views fed);
- ``client.insert``: clickhouse-connect's column-oriented insert of the same columns
  into a plain ``MergeTree`` copy without views (the driver's floor);
- ``chdb JSONEachRow``: the rows serialized with orjson and inserted as
  ``FORMAT JSONEachRow`` (a raw chDB insert).

Each figure is the median of ``repeats`` runs with fresh offsets (no deduplication);
the sink's best run is shown too (the machine may be shared).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sinks.base import Batch, Origin, RetryPolicy, Row
from sinks.clickhouse.rows import from_event
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.tables import INTERACTIONS

SIZES = (1_000, 10_000, 100_000)
RAW_TABLE = "bench_raw"


@dataclass(frozen=True)
class BenchRow:
    batch: int
    sink_rows_s: float
    sink_best_rows_s: float
    client_rows_s: float
    chdb_json_rows_s: float


def make_rows(n: int) -> tuple[list[Row], float]:
    """``n`` interaction rows from the synthetic source, and the conversion rate (rows/s)."""
    from streams.replay import SOURCES  # noqa: PLC0415 - replay is a dev dependency here
    from streams.replay.produce import encode  # noqa: PLC0415

    raws = [encode(record)[1] for record in SOURCES["synthetic"](limit=n, seed=11)]
    started = time.perf_counter()
    rows: list[Row] = []
    for i, raw in enumerate(raws):
        out = from_event(raw, Origin("bench", 0, i))
        rows.extend(row for _, row in out.rows[:1])
    return rows, n / (time.perf_counter() - started)


async def run(
    sizes: tuple[int, ...] = SIZES, repeats: int = 3, path: Path | None = None
) -> tuple[list[BenchRow], float]:
    """Rows/s per batch size for the three ways, and the event->row conversion rate."""
    rows, convert_rate = make_rows(max(sizes))
    with tempfile.TemporaryDirectory(prefix="rapport-bench-") as tmp:
        sink = ClickHouseSink(f"chdb://{path or Path(tmp)}", "bench", RetryPolicy(0.1, 1.0, 0))
        await sink.open()
        try:
            _create_raw_table(sink)
            out = [await _measure(sink, rows[:n], repeats) for n in sizes]
        finally:
            sink.close()
    return out, convert_rate


async def _measure(sink: ClickHouseSink, rows: list[Row], repeats: int) -> BenchRow:
    n = len(rows)
    sink_s, client_s, json_s = [], [], []
    for rep in range(repeats):
        batch = Batch()
        base = (rep + 1) * 10_000_000 + n
        for i, row in enumerate(rows):
            batch.add("interactions", row, Origin("bench", 0, base + i))
        started = time.perf_counter()
        rejected = await sink.write(batch)
        sink_s.append(time.perf_counter() - started)
        assert not rejected, rejected[:1]
        client_s.append(_timed_client_insert(sink, rows))
        json_s.append(_timed_json_insert(sink, rows))
    return BenchRow(
        n,
        n / statistics.median(sink_s),
        n / min(sink_s),
        n / statistics.median(client_s),
        n / statistics.median(json_s),
    )


def _create_raw_table(sink: ClickHouseSink) -> None:
    sink._client.command(
        f"CREATE TABLE {RAW_TABLE} AS interactions "
        "ENGINE = MergeTree ORDER BY (customer_id, occurred_at, event_id)"
    )


def _timed_client_insert(sink: ClickHouseSink, rows: list[Row]) -> float:
    started = time.perf_counter()
    columns = [list(col) for col in zip(*rows, strict=True)]
    sink._client.insert(RAW_TABLE, columns, column_names=INTERACTIONS.names, column_oriented=True)
    return time.perf_counter() - started


def _timed_json_insert(sink: ClickHouseSink, rows: list[Row]) -> float:
    names = INTERACTIONS.names
    at = names.index("occurred_at")
    started = time.perf_counter()
    body = b"\n".join(orjson.dumps(_json_row(names, row, at)) for row in rows)
    sink._client.raw_insert(RAW_TABLE, column_names=None, insert_block=body, fmt="JSONEachRow")
    return time.perf_counter() - started


def _json_row(names: list[str], row: Row, at: int) -> dict[str, Any]:
    out = dict(zip(names, row, strict=True))
    out["occurred_at"] = row[at] / 1000  # JSON numbers are seconds for DateTime64
    return out


def report(results: list[BenchRow], convert_rate: float) -> str:
    """The table ``rapport bench sink`` prints."""
    head = ("batch rows", "sink (median)", "sink (best)", "client.insert", "chdb JSONEachRow")
    lines = ["  ".join(f"{h:>16}" for h in head)]
    for r in results:
        cells = (r.sink_rows_s, r.sink_best_rows_s, r.client_rows_s, r.chdb_json_rows_s)
        lines.append(f"{r.batch:>16,}  " + "  ".join(f"{c:>14,.0f}/s" for c in cells))
    lines.append(f"(event JSON -> row conversion, not timed above: {convert_rate:,.0f} rows/s)")
    return "\n".join(lines)


def main(sizes: tuple[int, ...] = SIZES, repeats: int = 3) -> tuple[list[BenchRow], float]:
    return asyncio.run(run(sizes, repeats))
