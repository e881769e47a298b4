"""Where the feature agent reads each ``events`` partition from, and what it missed.

For every assigned partition the agent keeps the next offset it expects. It learns
the start (the group's committed offset) and the event ids of the ``dedup_span``
records before it once recovery is done, before the stream resumes, so the stream
never waits on its first record. Records must then arrive one offset after the
other: Faust drops records queued during a rebalance and may commit past them, so
a jump is answered by reading the missing records from Kafka and applying them
first. Only ``agents`` and ``streams`` touch Kafka: these direct reads live here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from features import metrics as fmetrics
from features.engine import FeatureEngine
from streams.core.kafka_client import client_options
from streams.core.settings import Settings

log = logging.getLogger(__name__)
FETCH_BYTES = 8 * 1024 * 1024
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class RawRecord:
    offset: int
    key: bytes | None
    value: bytes | None


class Partitions:
    """The next expected offset of each assigned partition (and its dedup window)."""

    def __init__(self, settings: Settings, topic: str, engine: FeatureEngine) -> None:
        self.settings = settings
        self.topic = topic
        self.engine = engine
        self.next: dict[int, int] = {}

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.next.pop(partition, None)

    async def prepare(self, partitions: set[int]) -> None:
        """Start of each new partition: its committed offset (0 without one)."""
        todo = partitions - set(self.next)
        try:
            reading = committed_offsets(self.settings, self.topic, todo)
            committed = await asyncio.wait_for(reading, READ_TIMEOUT_S)
        except Exception:
            log.exception("features: committed offsets unknown; partitions prepared lazily")
            return
        for partition in sorted(todo):
            await self.start(partition, committed.get(partition, 0))

    async def start(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset``; reload the event ids of the records before."""
        first = max(0, offset - self.settings.features_dedup_span)
        pairs: list[tuple[int, str]] = []
        try:
            records = await self.read(partition, first, offset)
            pairs = [(r.offset, i) for r in records if (i := event_id_of(r.value))]
        except Exception as exc:  # degraded: redelivery is still skipped by offset
            log.warning(
                "features: no event ids of %s[%d] before %d: %r", self.topic, partition, offset, exc
            )
        self.engine.seed_recent(partition, pairs)
        self.next[partition] = offset
        fmetrics.DEDUP_WINDOW.set(sum(len(r) for r in self.engine.recent.values()))
        log.info(
            "features: %s[%d] from offset %d, %d event ids reloaded",
            self.topic,
            partition,
            offset,
            len(pairs),
        )

    async def missed(self, partition: int, offset: int) -> list[RawRecord]:
        """The records before ``offset`` this agent should have seen and did not."""
        expected = self.next.get(partition)
        if expected is None:
            await self.start(partition, offset)
        self.next[partition] = offset + 1
        if expected is None or offset <= expected:
            return []
        fmetrics.OFFSET_GAPS.inc()
        log.warning(
            "features: %s[%d] jumped from offset %d to %d; reading the gap",
            self.topic,
            partition,
            expected,
            offset,
        )
        try:
            return await self.read(partition, expected, offset)
        except Exception:
            log.exception(
                "features: could not read %s[%d] [%d, %d)", self.topic, partition, expected, offset
            )
            return []

    async def read(self, partition: int, start: int, end: int) -> list[RawRecord]:
        reading = read_records(self.settings, self.topic, partition, start, end)
        return await asyncio.wait_for(reading, READ_TIMEOUT_S)


def event_id_of(value: bytes | None) -> str | None:
    try:
        event_id = orjson.loads(value or b"")["event_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return event_id if isinstance(event_id, str) else None


async def read_records(
    settings: Settings, topic: str, partition: int, start: int, end: int
) -> list[RawRecord]:
    """The records ``[start, end)`` of one partition (fewer if retention removed some)."""
    if start >= end:
        return []
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    await consumer.start()
    out: list[RawRecord] = []
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=500)
            for record in batches.get(tp, []):
                if record.offset >= end:
                    return out
                out.append(RawRecord(record.offset, record.key, record.value))
    finally:
        await consumer.stop()
    return out


async def committed_offsets(settings: Settings, topic: str, partitions: set[int]) -> dict[int, int]:
    """The group's (``app_id``) committed offset of each partition; absent if none."""
    if not partitions:
        return {}
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        wanted = [TopicPartition(topic, p) for p in sorted(partitions)]
        found = await admin.list_consumer_group_offsets(settings.app_id, partitions=wanted)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in found.items() if meta.offset >= 0}
