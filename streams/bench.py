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
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.kafka_client import client_options
from streams.main_job import start_worker
from streams.settings import Settings
from streams.stack.procs import stop_child


@dataclass
class Result:
    workload: str
    events: int
    events_per_s: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None


def _events(n: int, run: str, stamp_now: bool) -> list[tuple[bytes, bytes]]:
    base = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        customer = f"c{(i * 7919) % 5000}"
        event = {
            "type": "message",
            "event_id": f"{run}-{i}",
            "customer_id": customer,
            "occurred_at": datetime.now(UTC).isoformat() if stamp_now else base,
            "source": "bench",
            "channel": "chat",
            "direction": "inbound",
            "conversation_id": f"conv-{customer}",
            "text": f"my order {i} has not arrived yet",
        }
        out.append((customer.encode(), orjson.dumps(event)))
    return out


async def _produce(
    settings: Settings, topic: str, records: list[tuple[bytes, bytes]], rate: float | None = None
) -> None:
    producer = AIOKafkaProducer(
        **client_options(settings), acks="all", linger_ms=5, max_batch_size=262_144
    )
    await producer.start()
    started = time.monotonic()
    try:
        futures = []
        for i, (key, raw) in enumerate(records):
            value = raw
            if rate:
                # stamp event time at send so latency is measured from here
                event = orjson.loads(value)
                event["occurred_at"] = datetime.now(UTC).isoformat()
                value = orjson.dumps(event)
                ahead = i / rate - (time.monotonic() - started)
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
            futures.append(await producer.send(topic, key=key, value=value))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _span(
    settings: Settings, topic: str, count: int, timeout: float, with_latency: bool
) -> tuple[float, list[float]]:
    """Wait for ``count`` records on ``topic``; return their timestamp span and latencies."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    first = last = 0
    seen = 0
    latencies: list[float] = []
    deadline = time.monotonic() + timeout
    try:
        while seen < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    first = r.timestamp if seen == 0 else min(first, r.timestamp)
                    last = max(last, r.timestamp)
                    seen += 1
                    if with_latency and r.value:
                        occurred = datetime.fromisoformat(orjson.loads(r.value)["occurred_at"])
                        latencies.append(r.timestamp - occurred.timestamp() * 1000)
    finally:
        await consumer.stop()
    if seen < count:
        msg = f"only {seen}/{count} records reached {topic} within {timeout:.0f}s"
        raise RuntimeError(msg)
    return max(1, last - first) / 1000.0, latencies


def _proc_stats(pid: int) -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return cpu, hwm


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _baseline(settings: Settings, source: str, sink: str, n: int) -> Result:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.bench_baseline",
            settings.kafka_bootstrap_servers,
            source,
            sink,
            str(n),
        ]
    )
    span, _ = asyncio.run(_span(settings, sink, n, 300, with_latency=False))
    # every record reached the sink, so the loop is ending: reap it with its own usage
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    return Result("bare aiokafka consume-orjson-produce", n, n / span, None, None, cpu, rss)


def _rapport_ingest(settings: Settings, n: int, stamp_rate: float | None) -> Result:
    worker = start_worker(settings)
    try:
        asyncio.run(
            _produce(
                settings,
                settings.topic_name("interactions"),
                _events(n, uuid.uuid4().hex[:8], False),
                rate=stamp_rate,
            )
        )
        span, lat = asyncio.run(
            _span(
                settings, settings.topic_name("events"), n, 600, with_latency=stamp_rate is not None
            )
        )
        cpu, rss = _proc_stats(worker.pid)
    finally:
        stop_child(worker)  # SIGTERM, then SIGKILL: never left behind
    name = "rapport ingest (validate+dedup+forward)"
    if stamp_rate:
        return Result(
            f"{name} @ {stamp_rate:,.0f}/s", n, n / span, _pct(lat, 0.5), _pct(lat, 0.99), cpu, rss
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
    asyncio.run(_produce(base, source, _events(n, tag, False)))
    results.append(_baseline(base, source, f"bench.{tag}.baseline-out", n))
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
        from streams.bench_pipeline import pipeline  # noqa: PLC0415

        full = pipeline(base, n, None)
        results.append(full)
        ratios["pipeline"] = full.events_per_s / results[0].events_per_s
        half = max(50.0, full.events_per_s / 2)
        results.append(pipeline(base, min(n, int(half * 20)), half))
    _print(results)
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


def _print(results: list[Result]) -> None:
    print(
        f"{'workload':<48} {'events':>8} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu s':>7} {'rss MiB':>8}"
    )
    for r in results:

        def f(v: float | None, spec: str) -> str:
            return "-" if v is None else format(v, spec)

        print(
            f"{r.workload:<48} {r.events:>8} {r.events_per_s:>10,.0f} {f(r.p50_ms, '.1f'):>8} "
            f"{f(r.p99_ms, '.1f'):>8} {f(r.cpu_s, '.1f'):>7} {f(r.peak_rss_mb, '.0f'):>8}"
        )
