"""Produce replay records to the interactions topic, as fast as possible or at a rate."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.replay.base import ReplayRecord
from streams.replay.pacing import LiveClock

Progress = Callable[[int], None]


@dataclass
class ReplayStats:
    produced: int = 0
    seconds: float = 0.0
    by_type: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.produced / self.seconds if self.seconds else 0.0


def encode(record: ReplayRecord, id_prefix: str = "") -> tuple[bytes, bytes]:
    """The wire form: key = customer_id, value = the event as JSON (orjson).

    >>> from streams.replay import SOURCES
    >>> key, value = encode(next(SOURCES["telco"](limit=1)), id_prefix="run2-")
    >>> key == orjson.loads(value)["customer_id"].encode(), orjson.loads(value)["event_id"][:5]
    (True, 'run2-')
    """
    event: dict[str, Any] = dict(record.event)
    if id_prefix:
        event["event_id"] = id_prefix + str(event["event_id"])
        if "message_event_id" in event:
            event["message_event_id"] = id_prefix + str(event["message_event_id"])
    return record.customer_id.encode(), orjson.dumps(event)


async def produce_records(
    settings: Settings,
    records: Iterable[ReplayRecord],
    *,
    rate: float | None = None,
    id_prefix: str = "",
    progress: Progress | None = None,
    live: bool = False,
) -> ReplayStats:
    """Send every record (:func:`send_pairs`); ``live``: each record's event time is its
    send time, less its lag behind the dataset's clock
    (:class:`~streams.replay.pacing.LiveClock`)."""
    stats = ReplayStats()
    clock = LiveClock() if live else None

    def pairs() -> Iterator[tuple[bytes, bytes]]:
        for record in records:
            if clock is not None:
                record = clock.stamp(record)  # noqa: PLW2901 - the record as it is sent
            stats.by_type[str(record.event["type"])] += 1
            yield encode(record, id_prefix)

    started = time.monotonic()
    stats.produced = await send_pairs(settings, pairs(), rate=rate, progress=progress)
    stats.seconds = time.monotonic() - started
    return stats


async def send_pairs(
    settings: Settings,
    pairs: Iterable[tuple[bytes, bytes]],
    *,
    rate: float | None = None,
    progress: Progress | None = None,
    chunk: int = 2000,
) -> int:
    """Send (key, value) pairs to the interactions topic (acks=all, idempotent), lazily
    (each pair is made as it is sent); ``rate`` in records/s, None for full speed.
    ``progress(n)`` after every ``chunk`` records: the first ``n`` are acknowledged by
    Kafka. Returns how many were sent."""
    producer = AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=262_144,
    )
    topic = settings.topic_name("interactions")
    sent = 0
    await producer.start()
    started = time.monotonic()
    try:
        pending: list[asyncio.Future[Any]] = []
        for key, value in pairs:
            pending.append(await producer.send(topic, key=key, value=value))
            sent += 1
            if len(pending) >= chunk:
                await asyncio.gather(*pending)
                pending.clear()
                if progress:
                    progress(sent)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0.005:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
        if progress:
            progress(sent)
    finally:
        await producer.stop()
    return sent
