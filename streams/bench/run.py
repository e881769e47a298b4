"""``rapport bench``: Rapport's pipeline beside a bare aiokafka loop, measured in one run.

Both read the same pre-loaded topic, so start-up time is excluded: throughput is the
output count over the span between the first and last output record (broker timestamps).
Latency is measured at half the measured sustainable rate: output timestamp minus the
event's ``occurred_at`` (stamped when it was produced).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from streams.bench.harness import (
    Result,
    bare_loop,
    bench_events,
    output_span,
    pct,
    print_results,
    proc_stats,
    produce,
)
from streams.bench.pipeline import pipeline
from streams.core.settings import Settings
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker


def _rapport_ingest(settings: Settings, n: int, stamp_rate: float | None) -> Result:
    worker = start_worker(settings)
    try:
        asyncio.run(
            produce(
                settings,
                settings.topic_name("interactions"),
                bench_events(n, uuid.uuid4().hex[:8], False),
                rate=stamp_rate,
            )
        )
        span, lat = asyncio.run(
            output_span(
                settings, settings.topic_name("events"), n, 600, with_latency=stamp_rate is not None
            )
        )
        cpu, rss = proc_stats(worker.pid)
    finally:
        stop_child(worker)  # SIGTERM, then SIGKILL: never left behind
    name = "rapport ingest (validate+dedup+forward)"
    if stamp_rate:
        return Result(
            f"{name} @ {stamp_rate:,.0f}/s", n, n / span, pct(lat, 0.5), pct(lat, 0.99), cpu, rss
        )
    return Result(name, n, n / span, None, None, cpu, rss)


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    n: int = args.events
    results = []
    tag = uuid.uuid4().hex[:8]
    base = settings.model_copy(
        update={
            "topic_prefix": f"bench.{tag}.",
            "app_id": f"bench-{tag}",
            "data_dir": settings.data_dir / "bench" / tag,
            # checkpoints and feature copies of earlier runs must not be restored
            "redis_key_prefix": f"{settings.redis_key_prefix}bench-{tag}:",
        }
    )
    source = f"bench.{tag}.baseline-in"
    asyncio.run(produce(base, source, bench_events(n, tag, False)))
    results.append(bare_loop(base, source, f"bench.{tag}.baseline-out", n))
    ratios: dict[str, float] = {}
    if args.workload in ("all", "ingest"):
        throughput = _rapport_ingest(base, n, None)
        results.append(throughput)
        ratios["ingest"] = throughput.events_per_s / results[0].events_per_s
        lat_settings = base.model_copy(
            update={"topic_prefix": f"bench.{tag}.lat.", "app_id": f"bench-{tag}-lat"}
        )
        half = max(100.0, throughput.events_per_s / 2)
        results.append(_rapport_ingest(lat_settings, min(n, int(half * 20)), half))
    if args.workload in ("all", "pipeline"):
        [full] = pipeline(base, n, None)
        results.append(full)
        ratios["pipeline"] = full.events_per_s / results[0].events_per_s
        half = max(50.0, full.events_per_s / 2)
        results += pipeline(base, min(n, int(half * 20)), half)
    print_results(results)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "at": datetime.now(UTC).isoformat(),
                "results": [asdict(r) for r in results],
                "ratio_vs_baseline": ratios,
            },
            indent=2,
        )
    )
    shown = ", ".join(f"{name} {ratio:.3f}" for name, ratio in ratios.items())
    print(f"ratio rapport/baseline: {shown}; written to {out}")
    return 0
