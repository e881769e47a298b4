"""The batching base: transient failures wait (nothing dropped), data failures isolate rows."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from sinks.base import Batch, BatchingSink, Origin, Rejected, RetryPolicy, Row, token
from sinks.clickhouse.sql import check_readonly

FAST = RetryPolicy(base_s=0.001, max_s=0.002, data_retries=1)


class DownError(Exception):
    """The store is unreachable."""


class RefusedError(Exception):
    """The store refuses a value."""


class FakeSink(BatchingSink):
    """Fails ``outage`` times (transient), refuses rows whose value is negative."""

    def __init__(self, outage: int) -> None:
        super().__init__(FAST)
        self.outage = outage
        self.stored: list[Row] = []
        self.calls = 0

    async def insert(self, table: str, rows: list[Row], origins: list[Origin]) -> list[Rejected]:
        self.calls += 1
        if self.outage:
            self.outage -= 1
            raise DownError("connection refused")
        if any(row[0] < 0 for row in rows):
            raise RefusedError("value out of range")
        self.stored.extend(rows)
        return []

    def is_data_error(self, exc: Exception) -> bool:
        return isinstance(exc, RefusedError)


def batch_of(values: list[int]) -> Batch:
    batch = Batch()
    for i, value in enumerate(values):
        batch.add("t", (value,), Origin("events", 0, i))
    return batch


async def test_outage_is_waited_out_and_nothing_is_dropped() -> None:
    sink = FakeSink(outage=25)
    rejected = await sink.write(batch_of(list(range(100))))
    assert rejected == []
    assert sorted(row[0] for row in sink.stored) == list(range(100))
    assert sink.calls == 26


async def test_retry_backlog_holds_the_rows_of_a_retried_write() -> None:
    sink = FakeSink(outage=1_000_000)
    writing = asyncio.ensure_future(sink.write(batch_of(list(range(100)))))
    for _ in range(5000):  # a few failed attempts
        if sink.calls >= 3:
            break
        await asyncio.sleep(0.001)
    labels = {"sink": sink.name}
    assert REGISTRY.get_sample_value("rapport_sink_retry_backlog_rows", labels) == 100
    sink.outage = 0  # the store is back
    assert await writing == []
    assert REGISTRY.get_sample_value("rapport_sink_retry_backlog_rows", labels) == 0


async def test_rows_written_are_observed_in_the_sink_stage_latency() -> None:
    def count() -> float:
        found = REGISTRY.get_sample_value("rapport_stage_latency_seconds_count", {"stage": "sink"})
        return found or 0.0

    sink, before = FakeSink(outage=0), count()
    await sink.write(batch_of([1, 2, 3]))  # no event-time column declared: not observed
    assert count() == before
    sink.time_columns["t"] = 0
    await sink.write(batch_of([1, 2, -3, 4]))  # the refused row is not observed
    assert count() == before + 3


async def test_refused_rows_are_isolated_and_the_rest_written() -> None:
    values = [1, 2, -3, 4, 5, 6, -7, 8]
    sink = FakeSink(outage=0)
    rejected = await sink.write(batch_of(values))
    assert sorted(r.origin.offset for r in rejected) == [2, 6]
    assert {r.reason_code for r in rejected} == {"store_rejected"}
    assert "value out of range" in rejected[0].reason
    assert sorted(row[0] for row in sink.stored) == [1, 2, 4, 5, 6, 8]


def test_token_names_exactly_the_origins() -> None:
    a = [Origin("e", 1, 7), Origin("e", 0, 5), Origin("e", 0, 6), Origin("e", 0, 9)]
    assert token("t", a) == "t:e:0:5-6+9,1:7"
    assert token("t", a) == token("t", list(reversed(a)))
    assert token("t", a) != token("t", a[:3])
    many = [Origin("e", 0, 2 * i) for i in range(1000)]
    assert len(token("t", many)) < 100 and token("t", many) != token("t", many[:-1])


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO interactions VALUES (1)",
        "ALTER TABLE interactions DELETE WHERE 1",
        "SET readonly = 0",
        "SELECT 1; DROP TABLE interactions",
        "",
        "  -- nothing\n",
    ],
)
def test_sql_gate_refuses_everything_but_one_read(sql: str) -> None:
    with pytest.raises(Exception, match=r"read-only|one statement|empty"):
        check_readonly(sql)


def test_sql_gate_keeps_semicolons_inside_strings() -> None:
    assert check_readonly("SELECT 'a;b' AS x;") == "SELECT 'a;b' AS x"
