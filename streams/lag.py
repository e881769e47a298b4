"""Consumer lag of a group, from Kafka itself: in messages and in seconds.

Lag in messages = end offset - committed offset. Lag in seconds = now - the broker
timestamp of the oldest unprocessed record (the record at the committed offset): how
long it has waited in Kafka. Lag in event seconds = now - that record's event time
(its ``occurred_at``; the broker timestamp when it has none): how old the data behind
the backlog is (a replay of an old timeline reads as old, by design). Both are 0 when
nothing is pending. Works whether or not the group's workers are running.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.core.kafka_client import client_options
from streams.core.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int
    messages: int
    seconds: float
    event_seconds: float = 0.0


async def group_lag(
    settings: Settings,
    group_id: str,
    topics: list[str],
    *,
    consumed_only: bool = False,
    only: Collection[tuple[str, int]] | None = None,
    ages: bool = True,
) -> list[PartitionLag]:
    """Lag per partition; ``consumed_only`` skips topics the group never committed on,
    ``only`` keeps these (topic, partition) pairs (a worker's own partitions); without
    ``ages`` the seconds are left at 0 (no fetch of each partition's oldest pending record:
    cheaper, for a caller that polls the messages only)."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(
                consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            )
        ]
        if only is not None:
            tps = [tp for tp in tps if (tp.topic, tp.partition) in only]
        if not tps:
            return []
        ends = await consumer.end_offsets(tps)
        commits = {tp: await consumer.committed(tp) for tp in tps}
        if consumed_only:
            seen = {tp.topic for tp, offset in commits.items() if offset is not None}
            tps = [tp for tp in tps if tp.topic in seen]
        out = []
        for tp in tps:
            committed = commits[tp]
            start = (
                committed if committed is not None else (await consumer.beginning_offsets([tp]))[tp]
            )
            pending = max(0, ends[tp] - start)
            seconds, event_seconds = (
                await _age(consumer, tp, start) if pending and ages else (0.0, 0.0)
            )
            out.append(
                PartitionLag(
                    tp.topic, tp.partition, ends[tp], start, pending, seconds, event_seconds
                )
            )
        return out
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or set())


async def _age(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> tuple[float, float]:
    """Ages of the record at ``offset``: by broker timestamp and by event time."""
    consumer.assign([tp])
    consumer.seek(tp, offset)
    batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
    records = batch.get(tp, [])
    if not records:
        return 0.0, 0.0
    now = time.time()
    stamp = records[0].timestamp / 1000.0
    occurred = event_time(records[0].value)
    return max(0.0, now - stamp), max(0.0, now - (stamp if occurred is None else occurred))


def event_time(value: bytes | None) -> float | None:
    """The ``occurred_at`` of a JSON event, in epoch seconds; None when it has none.

    >>> event_time(b'{"occurred_at": "2026-01-01T00:00:00+01:00"}')
    1767222000.0
    >>> event_time(b"not json") is None, event_time(b'{"occurred_at": 5}') is None
    (True, True)
    """
    try:
        record = orjson.loads(value or b"")
        raw = record.get("occurred_at") if isinstance(record, dict) else None
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except (orjson.JSONDecodeError, ValueError):
        return None
    if moment is None or moment.utcoffset() is None:
        return None
    return moment.timestamp()
