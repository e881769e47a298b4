"""Consumer lag of a group, from Kafka itself: in messages and in seconds.

Lag in messages = end offset - committed offset. Lag in seconds = now - the broker
timestamp of the oldest unprocessed record (the record at the committed offset); 0
when nothing is pending. Works whether or not the group's workers are running.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka_client import client_options
from streams.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int
    messages: int
    seconds: float


async def group_lag(
    settings: Settings,
    group_id: str,
    topics: list[str],
    *,
    consumed_only: bool = False,
    only: Collection[tuple[str, int]] | None = None,
) -> list[PartitionLag]:
    """Lag per partition; ``consumed_only`` skips topics the group never committed on,
    ``only`` keeps these (topic, partition) pairs (a worker's own partitions)."""
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
            seconds = await _age(consumer, tp, start) if pending else 0.0
            out.append(PartitionLag(tp.topic, tp.partition, ends[tp], start, pending, seconds))
        return out
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or set())


async def _age(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> float:
    consumer.assign([tp])
    consumer.seek(tp, offset)
    batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
    records = batch.get(tp, [])
    if not records:
        return 0.0
    stamp_ms: int = records[0].timestamp
    return max(0.0, time.time() - stamp_ms / 1000.0)
