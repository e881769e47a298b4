"""The ClickHouse sink on a real chDB engine: migrations, idempotence, misfits, erasure, SQL."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from schemas.published import DeadLetter
from sinks.base import Batch, Origin, RetryPolicy, SinkError
from sinks.clickhouse.erasure import customer_hash
from sinks.clickhouse.migrations import migrate
from sinks.clickhouse.rows import Converted, from_event
from sinks.clickhouse.rows_published import from_dead_letter, from_draft, from_insight
from sinks.clickhouse.sink import ClickHouseSink
from sinks.clickhouse.tables import TABLES
from sinks.metrics import RETRIES, UP

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("chdb")  # one engine path per process: one per module


@pytest.fixture
async def sink(chdb_path: Path) -> AsyncIterator[ClickHouseSink]:
    sk = ClickHouseSink(
        f"chdb://{chdb_path}", f"t_{uuid.uuid4().hex[:10]}", RetryPolicy(0.01, 0.05, 0)
    )
    await sk.open()
    yield sk
    sk.close()


def message(i: int, customer: str = "c1", at: datetime = T0, **extra: Any) -> bytes:
    event = {
        "type": "message",
        "event_id": f"m{i}",
        "customer_id": customer,
        "occurred_at": (at + timedelta(minutes=i)).isoformat(),
        "source": "test",
        "channel": "chat",
        "direction": "inbound" if i % 2 == 0 else "outbound",
        "conversation_id": f"conv-{customer}",
        "text": f"hi, mail me at x{i}@mail.com",
        **extra,
    }
    return orjson.dumps(event)


def draft(request_id: str, created_at: str) -> bytes:
    return orjson.dumps({
        "draft_id": f"d-{request_id}", "request_id": request_id, "customer_id": "c1",
        "conversation_id": "conv-c1", "text": "hello", "model": "m", "prompt_version": "v1",
        "latency_ms": 1.0, "created_at": created_at,
    })  # fmt: skip


def batch_of(records: list[tuple[bytes, Any]], offset0: int = 0) -> Batch:
    batch = Batch()
    for i, (raw, convert) in enumerate(records):
        origin = Origin("events", 0, offset0 + i)
        out: Converted = convert(raw, origin)
        assert out.rejection is None, out.rejection
        for table, row in out.rows:
            batch.add(table, row, origin)
    return batch


def scalar(sink: ClickHouseSink, sql: str) -> Any:
    return sink._client.query(sql).result_rows[0][0]


async def test_migrations_apply_once_and_match_the_insert_specs(sink: ClickHouseSink) -> None:
    assert migrate(sink._client) == []
    for spec in TABLES.values():
        described = sink._client.query(f"DESCRIBE TABLE {spec.name}").result_rows
        columns = [(r[0], r[1]) for r in described if r[0] != "inserted_at"]
        assert columns == [(c.name, c.type) for c in spec.columns], spec.name


async def test_the_same_batch_written_twice_is_stored_once(sink: ClickHouseSink) -> None:
    batch = batch_of([(message(i), from_event) for i in range(50)])
    assert await sink.write(batch) == []
    assert await sink.write(batch) == []
    assert scalar(sink, "SELECT count() FROM interactions") == 50  # dropped at insert: the token
    assert scalar(sink, "SELECT sum(events) FROM kpi_volume_hourly") == 50


async def test_redelivered_records_collapse_to_one_row(sink: ClickHouseSink) -> None:
    records = [(message(i), from_event) for i in range(40)]
    await sink.write(batch_of(records))
    await sink.write(batch_of(records, offset0=1000))  # new offsets: a new token
    assert scalar(sink, "SELECT count() FROM interactions FINAL") == 40
    assert scalar(sink, "SELECT sum(events) FROM kpi_volume_hourly") == 40
    text = scalar(sink, "SELECT any(text) FROM interactions")
    assert "@" not in text and "[email]" in text


async def test_values_that_do_not_fit_are_rejected_not_written(sink: ClickHouseSink) -> None:
    zero_time = message(1, at=datetime(1, 1, 1, tzinfo=UTC))
    insight = orjson.dumps(
        {
            "insight_id": "i1",
            "customer_id": "c1",
            "event_id": "m0",
            "model": "churn_risk",
            "model_version": 2**40,
            "prediction": 0.7,
            "occurred_at": T0.isoformat(),
            "produced_at": T0.isoformat(),
        }
    )
    batch = batch_of(
        [
            (message(0), from_event),
            (zero_time, from_event),
            (message(2), from_event),
            (insight, from_insight),
        ]
    )
    rejected = await sink.write(batch)
    assert sorted((r.table, r.origin.offset, r.reason_code) for r in rejected) == [
        ("insights", 3, "column_overflow"),
        ("interactions", 1, "column_overflow"),
    ]
    reasons = " ".join(r.reason for r in rejected)
    assert "interactions.occurred_at" in reasons and "0001-01-01" in reasons
    assert "insights.model_version = 1099511627776 does not fit UInt32" in reasons
    assert scalar(sink, "SELECT count() FROM interactions") == 2


async def test_erasure_deletes_audits_and_refuses_older_replays(sink: ClickHouseSink) -> None:
    records = [(message(i, "c1"), from_event) for i in range(10)]
    records += [(message(i, "c2"), from_event) for i in range(10, 16)]
    await sink.write(batch_of(records))
    erasure = orjson.dumps(
        {
            "type": "erasure",
            "event_id": "er1",
            "customer_id": "c1",
            "occurred_at": (T0 + timedelta(days=1)).isoformat(),
            "source": "privacy",
        }
    )
    request = from_event(erasure, Origin("events", 0, 99)).erasure
    assert request is not None
    deleted = await sink.erase(request)
    assert deleted["interactions"] == 10 and deleted["agg_conversations"] == 1
    await sink.erase(request)  # redelivered: still one audit row
    for table in ("interactions", "agg_conversations"):
        assert scalar(sink, f"SELECT count() FROM {table} WHERE customer_id = 'c1'") == 0
    assert scalar(sink, "SELECT count() FROM interactions WHERE customer_id = 'c2'") == 6
    audit = sink._client.query("SELECT customer_hash, rows_deleted FROM erasures").result_rows
    assert audit == [(customer_hash("c1"), {**deleted})]
    assert "c1" not in str(sink._client.query("SELECT * FROM erasures").result_rows)

    replay = [(message(i, "c1"), from_event) for i in range(10)]  # old events, new offsets
    later = [(message(50, "c1", at=T0 + timedelta(days=2)), from_event)]
    await sink.write(batch_of(replay + later, offset0=500))
    ids = sink._client.query("SELECT event_id FROM interactions WHERE customer_id = 'c1'")
    assert ids.result_rows == [("m50",)]

    # drafted now: kept only when the message it answers was admitted; dead letters: never
    now = datetime.now(UTC).isoformat()
    drafts = [(draft(request, now), from_draft) for request in ("m3", "m50")]
    letter = DeadLetter.build(raw=b"{}", key=b"c1", reason="r", reason_code="x", topic="t",
                              partition=0, offset=1, now=datetime.now(UTC))  # fmt: skip
    await sink.write(batch_of([*drafts, (letter.model_dump_json().encode(), from_dead_letter)]))
    kept = sink._client.query("SELECT request_id FROM drafts WHERE customer_id = 'c1'")
    assert kept.result_rows == [("m50",)]
    assert scalar(sink, "SELECT count() FROM dead_letters") == 0

    reopened = ClickHouseSink(sink.url, sink.database, sink.retry)  # the erased set is reloaded
    await reopened.open()
    try:
        await reopened.write(batch_of(replay, offset0=900))
        assert scalar(reopened, "SELECT count() FROM interactions WHERE customer_id = 'c1'") == 1
    finally:
        reopened.close()


async def test_queries_are_read_only(sink: ClickHouseSink) -> None:
    await sink.write(batch_of([(message(i), from_event) for i in range(4)]))
    answer = orjson.loads(await sink.query("SELECT count() AS n FROM interactions", "JSONCompact"))
    assert answer["data"] == [[4]]
    with pytest.raises(SinkError, match="read-only"):
        await sink.query("TRUNCATE TABLE interactions", "JSONCompact")
    with pytest.raises(Exception, match=r"READONLY|readonly"):
        await sink.query("SELECT * FROM interactions SETTINGS readonly = 0", "JSONCompact")
    assert scalar(sink, "SELECT count() FROM interactions") == 4


async def test_an_unreachable_server_is_waited_for_not_skipped() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there
    down = ClickHouseSink(f"http://default:@127.0.0.1:{port}/rapport", "rapport",
                          RetryPolicy(0.05, 0.1, 0))  # fmt: skip
    before = RETRIES.labels("clickhouse", "transient")._value.get()
    opening = asyncio.create_task(down.open())
    await asyncio.sleep(1.0)
    assert not opening.done(), "open() must keep retrying while ClickHouse is down"
    assert RETRIES.labels("clickhouse", "transient")._value.get() - before >= 3
    assert UP.labels("clickhouse")._value.get() == 0
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    down.close()


def test_errors_are_classified_data_or_transient(sink: ClickHouseSink) -> None:
    assert sink.is_data_error(DataError("Unable to create native array for column `n`"))
    assert sink.is_data_error(DatabaseError("Code: 53. DB::Exception: Type mismatch"))
    assert not sink.is_data_error(OperationalError("Connection refused"))
    assert not sink.is_data_error(DatabaseError("Code: 241. DB::Exception: Memory limit"))
    assert not sink.is_data_error(ConnectionResetError("reset by peer"))
    assert sink.is_data_error(IndexError("tuple index out of range"))  # never retried forever
