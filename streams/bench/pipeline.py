"""``rapport bench``: the full pipeline (drafting off), beside the same run's baseline.

A real worker (ingest, features, scoring, the ClickHouse sink, reply requests; drafting
off) reads a pre-loaded topic of seeded synthetic events (orders, carts, page views,
tickets, ratings, messages). Throughput is events over the span from the first forwarded
event (its broker timestamp) to the moment the worker's consumer group has committed
every record of ``interactions`` and ``events``: every stage, the sink included, is done
with it. The group commits once a second, so the span is measured to about +1 s. Latency
is measured at half that rate: an insight's broker timestamp minus its event's
``occurred_at`` (stamped when the event was produced).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.bench.harness import (
    Result,
    drained,
    first_timestamp,
    pct,
    proc_stats,
    produce,
)
from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.replay import synthetic
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker

POLL_S = 0.2
NAME = "rapport pipeline (ingest+features+scoring+sink)"


def mixed_events(n: int, run: str) -> list[tuple[bytes, bytes]]:
    """``n`` seeded synthetic events with ids unique to ``run``."""
    out = []
    for record in synthetic(seed=1, limit=n, n_customers=max(100, n // 10)):
        event = dict(record.event)
        event["event_id"] = f"{run}-{event['event_id']}"
        event["occurred_at"] = datetime.now(UTC).isoformat()
        out.append((record.customer_id.encode(), orjson.dumps(event)))
    return out


async def insight_latencies(
    settings: Settings, count: int, timeout: float
) -> list[tuple[float, float]]:
    """Broker timestamp (ms) and its lag behind the event time (ms) of the first ``count``
    insights."""
    topic = settings.topic_name("insights")
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    occurred = datetime.fromisoformat(orjson.loads(r.value)["occurred_at"])
                    out.append((r.timestamp, r.timestamp - occurred.timestamp() * 1000))
    finally:
        await consumer.stop()
    return out


async def insight_count(settings: Settings) -> int:
    topic = settings.topic_name("insights")
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps) if tps else {}
        return sum(ends.values())
    finally:
        await consumer.stop()


STEADY_AFTER_S = 10.0
"""The paced run's second row: insights published from this many seconds after the first
(the cold start left out: each partition's model set built or restored at its first
event)."""


def pipeline(settings: Settings, n: int, rate: float | None) -> list[Result]:
    """One worker over ``n`` events: pre-loaded (``rate`` None: one row, throughput) or
    produced at ``rate`` (two rows: event-to-insight latency overall, and from the
    ``STEADY_AFTER_S``-th second)."""
    tag = uuid.uuid4().hex[:6]
    run = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}pipe{tag}.",
            "app_id": f"{settings.app_id}-pipe{tag}",
            "redis_key_prefix": f"{settings.redis_key_prefix}pipe{tag}:",  # no old checkpoints
            "drafting_enabled": False,
        }
    )
    events = mixed_events(n, tag)
    if rate is None:
        asyncio.run(produce(run, run.topic_name("interactions"), events))
    worker = start_worker(run)
    try:
        if rate is not None:
            asyncio.run(produce(run, run.topic_name("interactions"), events, rate=rate))
        done = asyncio.run(drained(run, 1800))
        start = asyncio.run(first_timestamp(run, run.topic_name("events"), 60))
        cpu, rss = proc_stats(worker.pid)
        insights = asyncio.run(insight_count(run))
        latencies = asyncio.run(insight_latencies(run, insights, 120)) if rate else []
    finally:
        stop_child(worker)  # SIGTERM, then SIGKILL: never left behind
    eps = n / max(1e-3, done - start)
    name = f"{NAME} @ {rate:,.0f}/s" if rate else NAME
    if not latencies:
        return [Result(name, n, eps, None, None, cpu, rss)]
    every = [lag for _, lag in latencies]
    first = min(at for at, _ in latencies)
    steady = [lag for at, lag in latencies if at >= first + STEADY_AFTER_S * 1000]
    rows = [Result(name, n, eps, pct(every, 0.5), pct(every, 0.99), cpu, rss)]
    if steady:
        label = f"  same, insights from the {STEADY_AFTER_S:.0f}th second ({len(steady):,})"
        rows.append(Result(label, n, eps, pct(steady, 0.5), pct(steady, 0.99)))
    return rows
