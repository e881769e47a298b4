"""Produce and collect records on the real broker for tests (aiokafka, acks=all, idempotent)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.examples import is_example

BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int

    def json(self) -> dict[str, object]:
        assert self.value is not None
        loaded = orjson.loads(self.value)
        assert isinstance(loaded, dict)
        return loaded


async def create_topic(name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def produce(topic: str, records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, max_request_size=4_194_304
    )
    await producer.start()
    count = 0
    try:
        batch = []
        for key, value in records:
            batch.append(await producer.send(topic, key=key, value=value))
            count += 1
            if len(batch) >= 1000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    return count


async def collect(
    topic: str, count: int, timeout: float = 60.0, settle: float = 0.0, *, examples: bool = False
) -> list[Record]:
    """Read ``topic`` from the beginning until ``count`` records or ``timeout``;
    then keep reading ``settle`` seconds more to catch extras (duplicates). The scoring
    stage's shared labelled examples on ``events`` (``schemas.examples``: no events) are
    left out unless ``examples``, and never count towards ``count``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=16_777_216,
        max_partition_fetch_bytes=16_777_216,
    )
    await consumer.start()
    out: list[Record] = []
    counted = 0
    try:
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if settle_until is None and (counted >= count or now > deadline):
                settle_until = now + settle
            if settle_until is not None and now >= settle_until:
                break
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    example = is_example(r.key)
                    counted += not example
                    if examples or not example:
                        out.append(Record(r.key, r.value, r.partition, r.offset))
    finally:
        await consumer.stop()
    return out


async def end_offsets(topic: str, count: int) -> dict[TopicPartition, int]:
    """The end offset of each partition of ``topic``, once it holds ``count`` records."""
    records = await collect(topic, count, timeout=30, examples=True)
    found = sum(not is_example(r.key) for r in records)
    assert found >= count, f"{topic}: {found} of {count} records"
    return _ends(topic, records)


async def current_ends(topic: str, read_s: float = 3.0) -> dict[TopicPartition, int]:
    """The end offset of each non-empty partition of ``topic``, read for ``read_s``."""
    return _ends(topic, await collect(topic, 10**9, timeout=read_s, examples=True))


def _ends(topic: str, records: list[Record]) -> dict[TopicPartition, int]:
    ends: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(topic, r.partition)
        ends[tp] = max(ends.get(tp, 0), r.offset + 1)
    return ends


async def wait_committed(
    group: str, ends: dict[TopicPartition, int], timeout: float = 30.0
) -> None:
    """Poll until ``group`` committed ``ends`` or beyond (see :func:`end_offsets`).

    A worker killed before this holds no record of its work (neither its offsets nor
    the table changelog writes flushed before each commit), so it redoes it.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    behind = dict(ends)
    try:
        deadline = time.monotonic() + timeout
        while behind and time.monotonic() < deadline:
            offsets = await admin.list_consumer_group_offsets(group, partitions=list(ends))
            behind = {
                tp: end for tp, end in ends.items() if tp not in offsets or offsets[tp].offset < end
            }
            if behind:
                await asyncio.sleep(0.25)
    finally:
        await admin.close()
    assert not behind, f"offsets of {group} not committed after {timeout}s: {behind}"
