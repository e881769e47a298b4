"""What the benches share: the result row, pre-loading a topic, timing an output topic,
a process's CPU and peak RSS, the bare aiokafka loop (the baseline every bench prints
beside its figures), and waiting for a worker's group to be done with its inputs."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.lag import group_lag

POLL_S = 0.2


@dataclass
class Result:
    workload: str
    events: int
    events_per_s: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None


def bench_events(n: int, run: str, stamp_now: bool) -> list[tuple[bytes, bytes]]:
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


async def produce(
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


async def output_span(
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


def proc_stats(pid: int) -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return cpu, hwm


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    """A TCP port free on this host now (for a bench worker's web server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def isolated(settings: Settings, name: str, **extra: Any) -> Settings:
    """Settings of one bench run: its own topics, group, Redis keys and data dir (earlier
    runs' checkpoints and feature copies must not be restored), and ``extra``."""
    tag = f"{name}{uuid.uuid4().hex[:6]}"
    return settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}{tag}.",
            "app_id": f"{settings.app_id}-{tag}",
            "redis_key_prefix": f"{settings.redis_key_prefix}{tag}:",
            "data_dir": settings.data_dir / "bench" / tag,
            **extra,
        }
    )


def bare_loop_process(
    settings: Settings, source: str, sink: str, n: int
) -> subprocess.Popen[bytes]:
    """The bare aiokafka loop (:mod:`streams.bench.baseline`), started over ``n`` records."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.bench.baseline",
            settings.kafka_bootstrap_servers,
            source,
            sink,
            str(n),
        ]
    )


def bare_loop(settings: Settings, source: str, sink: str, n: int) -> Result:
    proc = bare_loop_process(settings, source, sink, n)
    span, _ = asyncio.run(output_span(settings, sink, n, 300, with_latency=False))
    # every record reached the sink, so the loop is ending: reap it with its own usage
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    return Result("bare aiokafka consume-orjson-produce", n, n / span, None, None, cpu, rss)


async def first_timestamp(settings: Settings, topic: str, timeout: float) -> float:
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        first: float | None = None
        while first is None and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                stamps = [r.timestamp for r in records]
                first = min([*stamps, first]) if first is not None else min(stamps)
        if first is None:
            raise RuntimeError(f"nothing reached {topic} within {timeout:.0f}s")
        return first / 1000.0
    finally:
        await consumer.stop()


async def drained(settings: Settings, timeout: float) -> float:
    """Wall time at which the group has no lag on interactions and events."""
    topics = [settings.topic_name("interactions"), settings.topic_name("events")]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lags = await group_lag(settings, settings.app_id, topics)
        if lags and all(lag.messages == 0 for lag in lags):
            return time.time()
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"the pipeline did not drain within {timeout:.0f}s")


def print_results(results: list[Result]) -> None:
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
