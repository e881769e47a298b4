"""``rapport bench features``: rolling customer features, beside a bare aiokafka loop.

One run measures, on the same broker:

1. the bare aiokafka consume-orjson-produce loop (the baseline), then a real worker
   running only the ``ingest`` and ``features`` agents (``RAPPORT_AGENTS``) over the same
   count of pre-loaded seeded synthetic events: throughput is events over the span from
   the first forwarded event (its broker timestamp) to the moment the worker's group has
   committed every record of ``interactions`` and ``events`` (to about +1 s, the commit
   interval), as in the pipeline bench;
2. the feature state bytes per customer of that run, read back from the ``features``
   table's changelog (the latest value of each key: what compaction keeps);
3. start-to-ready time with C customers of state (:mod:`streams.bench.restart`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from streams.bench.harness import (
    Result,
    bare_loop,
    drained,
    first_timestamp,
    free_port,
    isolated,
    proc_stats,
    produce,
)
from streams.bench.restart import (
    Restart,
    changelog_topic,
    latest_sizes,
    partitions_of,
    restart_times,
)
from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.replay import synthetic
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker

NAME = "rapport ingest+features (2 agents)"
TARGET_BYTES = 1024
TARGET_READY_S = 30.0
AGENTS = "ingest,features"


@dataclass(frozen=True)
class StateSizes:
    customers: int
    mean: float
    median: float
    p99: int
    max: int


@dataclass(frozen=True)
class FeatureRun:
    result: Result
    customers_produced: int
    forwarded: int
    applied: int
    sizes: StateSizes


def scoped(settings: Settings, name: str) -> Settings:
    """Settings of one bench step: its own topics, group, Redis keys, data dir and port."""
    return isolated(
        settings,
        name,
        web_port=free_port(),
        agents=AGENTS,
        drafting_enabled=False,
        features_redis_ttl_s=60,
    )


def sizes_of(values: list[int]) -> StateSizes:
    ordered = sorted(values)
    if not ordered:
        return StateSizes(0, 0.0, 0.0, 0, 0)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return StateSizes(
        len(ordered), statistics.mean(ordered), statistics.median(ordered), p99, ordered[-1]
    )


def features_applied(port: int) -> int:
    """Events the worker's feature agent applied (on time or late), from ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            outcome = sample.labels.get("outcome")
            if sample.name == "rapport_features_events_total" and outcome in ("applied", "late"):
                total += sample.value
    return int(total)


def feature_events(n: int, run: str) -> list[tuple[bytes, bytes]]:
    """``n`` seeded synthetic events (their own event times: the state spans hours of
    activity, as in ``rapport bench state``), with ids unique to ``run``."""
    out = []
    for record in synthetic(seed=1, limit=n, n_customers=max(100, n // 10)):
        event = {**record.event, "event_id": f"{run}-{record.event['event_id']}"}
        out.append((record.customer_id.encode(), orjson.dumps(event)))
    return out


def ingest_features(run: Settings, n: int) -> FeatureRun:
    """One ``ingest,features`` worker (``run``: see :func:`scoped`) over ``n`` pre-loaded
    events; its figures."""
    events = feature_events(n, run.app_id)
    asyncio.run(produce(run, run.topic_name("interactions"), events))
    worker = start_worker(run)
    try:
        done = asyncio.run(drained(run, 1800))
        start = asyncio.run(first_timestamp(run, run.topic_name("events"), 60))
        cpu, rss = proc_stats(worker.pid)
        applied = features_applied(run.web_port)
    finally:
        stop_child(worker)  # SIGTERM, then SIGKILL: never left behind
    result = Result(NAME, n, n / max(1e-3, done - start), None, None, cpu, rss)
    forwarded = asyncio.run(_count(run, run.topic_name("events")))
    latest = asyncio.run(latest_sizes(run, changelog_topic(run)))
    sizes = sizes_of([size for size in latest.values() if size])
    return FeatureRun(result, len({key for key, _ in events}), forwarded, applied, sizes)


async def _count(settings: Settings, topic: str) -> int:
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
        ends = await consumer.end_offsets(tps) if tps else {}
        starts = await consumer.beginning_offsets(tps) if tps else {}
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


async def drop_topics(settings: Settings, runs: list[Settings]) -> None:
    """Delete the topics the bench created (its prefixes and changelogs)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        names = await admin.list_topics()
        ours = [
            t for t in names if any(t.startswith((r.topic_prefix, f"{r.app_id}-")) for r in runs)
        ]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def run_features_bench(settings: Settings, args: argparse.Namespace) -> int:
    n: int = args.events
    customers: int = args.customers
    base = scoped(settings, "base")
    source = base.topic_name("interactions")
    asyncio.run(produce(base, source, feature_events(n, base.app_id)))
    baseline = bare_loop(base, source, base.topic_name("events"), n)
    feat, restart = scoped(settings, "feat"), scoped(settings, "restart")
    feats = ingest_features(feat, n)
    restarts = restart_times(restart, customers)
    ratio = feats.result.events_per_s / baseline.events_per_s
    report(baseline, feats, ratio, restarts)
    write_json(Path(args.json), baseline, feats, ratio, restarts)
    asyncio.run(drop_topics(settings, [base, feat, restart]))
    for run in (base, feat, restart):
        shutil.rmtree(run.data_dir, ignore_errors=True)
    return 0


def report(baseline: Result, feats: FeatureRun, ratio: float, restarts: Restart) -> None:
    r, s = feats.result, feats.sizes
    print(f"{'workload':<44} {'events':>8} {'events/s':>10} {'cpu s':>7} {'rss MiB':>8}")
    print(f"{baseline.workload:<44} {baseline.events:>8} {baseline.events_per_s:>10,.0f}")
    print(
        f"{r.workload:<44} {r.events:>8} {r.events_per_s:>10,.0f} {r.cpu_s or 0:>7.1f} "
        f"{r.peak_rss_mb or 0:>8.0f}"
    )
    per_cpu = r.events / r.cpu_s if r.cpu_s else 0.0
    print(
        f"ratio ingest+features/baseline {ratio:.3f}; {per_cpu:,.0f} events per worker CPU "
        f"second; forwarded {feats.forwarded:,}, applied by features {feats.applied:,} of "
        f"{r.events:,}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"feature state per customer (changelog, {s.customers:,} of "
        f"{feats.customers_produced:,} customers): mean {s.mean:,.0f} B, median "
        f"{s.median:,.0f} B, p99 {s.p99:,} B, max {s.max:,} B (target <= {TARGET_BYTES:,} B)"
    )
    print(
        f"restart: {restarts.seeded:,} customer states seeded into the changelog, "
        f"{restarts.in_changelog:,} customers read back"
    )
    for t in restarts.cases:
        verdict = "within" if t.seconds <= TARGET_READY_S else "over"
        print(
            f"start to /ready, {restarts.seeded:,} customers, {t.case}: {t.seconds:.1f} s "
            f"({verdict} the {TARGET_READY_S:.0f} s target), {t.recovered:,} changelog records "
            f"recovered, worker CPU {t.cpu_s:.1f} s, peak RSS {t.peak_rss_mb:.0f} MiB"
            f"{'' if t.recoveries == 1 else f', {t.recoveries} recoveries logged'}"
        )


def write_json(
    out: Path, baseline: Result, feats: FeatureRun, ratio: float, restarts: Restart
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_1m_at_end": os.getloadavg()[0],
        },
        "at": datetime.now(UTC).isoformat(),
        "results": [asdict(baseline), asdict(feats.result)],
        "ratio_vs_baseline": {"ingest+features": ratio},
        "throughput_run": {
            "customers_produced": feats.customers_produced,
            "forwarded": feats.forwarded,
            "applied": feats.applied,
        },
        "state_bytes": {**asdict(feats.sizes), "target": TARGET_BYTES},
        "restart": {**asdict(restarts), "target_s": TARGET_READY_S},
    }
    out.write_text(json.dumps(doc, indent=2))
    print(f"written to {out}")
