"""``rapport bench live``: ``rapport replay --source synthetic --now --rate R`` against a worker.

A worker with the user's settings (drafting as configured) gets the synthetic replay
paced live (each event stamped as it is sent, :class:`streams.replay.pacing.LiveClock`)
at ``--rate`` events/s for ``--minutes``; then, once the group's lag on interactions
and events is 0, the bench prints the dead letters per reason (a replay that ran ahead
of the clock showed up as ``future_timestamp``) and the event-to-insight latency: each
insight's broker timestamp minus its event's ``occurred_at``, over every insight and
from the 10th second. The same figures a live stream of that rate gets.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer

from streams.bench.harness import Result, drained, pct, print_results, proc_stats
from streams.bench.pipeline import STEADY_AFTER_S, insight_count, insight_latencies
from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.replay import timed_records
from streams.replay.produce import produce_records
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker


async def dead_letters(settings: Settings) -> Counter[str]:
    """The dead letters' reason codes, read to the end of the topic."""
    consumer = AIOKafkaConsumer(
        settings.topic_name("dlq"),
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: Counter[str] = Counter()
    try:
        while batches := await consumer.getmany(timeout_ms=2000):
            for records in batches.values():
                found.update(str(orjson.loads(r.value)["reason_code"]) for r in records)
    finally:
        await consumer.stop()
    return found


def run_live_bench(settings: Settings, args: argparse.Namespace) -> int:
    tag = uuid.uuid4().hex[:6]
    run = settings.model_copy(
        update={
            "topic_prefix": f"bench.live{tag}.",
            "app_id": f"bench-live{tag}",
            "redis_key_prefix": f"{settings.redis_key_prefix}live{tag}:",
            "data_dir": settings.data_dir / "bench" / f"live{tag}",
        }
    )
    n = int(args.rate * args.minutes * 60)
    worker = start_worker(run)
    try:
        began = time.monotonic()
        records = timed_records(
            ["synthetic"], seed=0, limit=n, tweets_path=None, now=datetime.now(UTC), live=True
        )
        stats = asyncio.run(produce_records(run, records, rate=args.rate, live=True))
        sent_s = time.monotonic() - began
        asyncio.run(drained(run, 1800))
        cpu, rss = proc_stats(worker.pid)
        letters = asyncio.run(dead_letters(run))
        latencies = asyncio.run(insight_latencies(run, asyncio.run(insight_count(run)), 120))
    finally:
        stop_child(worker)
    every = [lag for _, lag in latencies]
    first = min((at for at, _ in latencies), default=0.0)
    steady = [lag for at, lag in latencies if at >= first + STEADY_AFTER_S * 1000]
    name = f"replay synthetic --now @ {args.rate:g}/s, drafting {run.drafting_enabled}"
    rows = [
        Result(name, stats.produced, stats.produced / sent_s, None, None, cpu, rss),
        Result(f"  every insight ({len(every):,})", n, 0, pct(every, 0.5), pct(every, 0.99)),
        Result(
            f"  from the 10th second ({len(steady):,})", n, 0, pct(steady, 0.5), pct(steady, 0.99)
        ),
    ]
    print_results(rows)
    shown = ", ".join(f"{code} {count}" for code, count in sorted(letters.items())) or "none"
    print(f"dead letters: {shown} (future_timestamp: {letters['future_timestamp']})")
    return 0
