"""``rapport bench peers``: Rapport beside Quix Streams and a bare aiokafka loop.

All three read the same pre-loaded topic (N seeded synthetic events of N/10 customers,
keyed by customer) and write one record per event:

1. the bare aiokafka consume-orjson-produce loop (the floor);
2. Quix Streams: :func:`features.peer_workload.update` as a stateful ``apply`` (its
   RocksDB state store, changelogged), in ``.venv-peers`` (``make bench-peers``);
3. Rapport: the same function in a worker running only the ``peers`` agent (batched
   records, a changelogged table written once per customer per batch).

Throughput is events over the span of the output records' broker timestamps (start-up
excluded). CPU per event is the process's CPU seconds between its first output and its
last (sampled from ``/proc`` as the outputs arrive), so import and start-up costs are
left out for both. The outputs of Quix Streams and Rapport are compared event by event:
the same workload must give the same records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.bench.features import feature_events
from streams.bench.harness import bare_loop_process, free_port, isolated, produce
from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker

ROOT = Path(__file__).resolve().parents[2]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
TARGET_RATIO = 2.0


@dataclass
class Run:
    engine: str
    events: int
    events_per_s: float
    cpu_ms_per_event: float
    cpu_s: float
    peak_rss_mib: float


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def outputs(
    settings: Settings, topic: str, count: int, pid: int, timeout: float
) -> tuple[float, float, float, dict[str, bytes]]:
    """Wait for ``count`` records on ``topic``; their broker-timestamp span, the
    process's CPU seconds from the first record to the last, its peak RSS, and the
    records by event id."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    first = last = 0
    cpu_first = 0.0
    found: dict[str, bytes] = {}
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while seen < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for r in records:
                    if seen == 0:
                        cpu_first, first = _cpu_s(pid), r.timestamp
                    first, last = min(first, r.timestamp), max(last, r.timestamp)
                    seen += 1
                    if r.value:
                        found[orjson.loads(r.value)["event_id"]] = r.value
        cpu = _cpu_s(pid) - cpu_first
        rss = _hwm_mib(pid)
    finally:
        await consumer.stop()
    if seen < count:
        msg = f"only {seen}/{count} records reached {topic} within {timeout:.0f}s"
        raise RuntimeError(msg)
    return max(1, last - first) / 1000.0, cpu, rss, found


async def create_topics(settings: Settings, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, settings.topic_partitions, settings.topic_replication) for n in names]
        )
    finally:
        await admin.close()


def timed(
    proc: subprocess.Popen[bytes], settings: Settings, sink: str, n: int, timeout: float
) -> tuple[float, float, float, dict[str, bytes]]:
    """:func:`outputs` of a process that ends after its last output; never left behind."""
    try:
        found = asyncio.run(outputs(settings, sink, n, proc.pid, timeout))
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return found


def bare(settings: Settings, source: str, sink: str, n: int) -> tuple[Run, dict[str, bytes]]:
    proc = bare_loop_process(settings, source, sink, n)
    span, cpu, rss, found = timed(proc, settings, sink, n, 600)
    return Run("bare aiokafka consume-orjson-produce", n, n / span, 1e3 * cpu / n, cpu, rss), found


def quix(settings: Settings, source: str, sink: str, n: int) -> tuple[Run, dict[str, bytes]]:
    if not PEERS_PYTHON.exists():
        msg = f"{PEERS_PYTHON} is missing: run `make bench-peers` (it installs Quix Streams)"
        raise FileNotFoundError(msg)
    state = settings.data_dir / "quix-state"
    proc = subprocess.Popen(
        [
            str(PEERS_PYTHON),
            "-m",
            "streams.bench.peers_quix",
            settings.kafka_bootstrap_servers,
            source,
            sink,
            str(n),
            str(state),
            f"{settings.app_id}-quix",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    span, cpu, rss, found = timed(proc, settings, sink, n, 1800)
    return Run("Quix Streams 3 (stateful apply)", n, n / span, 1e3 * cpu / n, cpu, rss), found


def rapport(settings: Settings, n: int) -> tuple[Run, dict[str, bytes]]:
    worker = start_worker(settings)
    try:
        span, cpu, rss, found = asyncio.run(
            outputs(settings, f"{settings.topic_prefix}peer-features", n, worker.pid, 1800)
        )
    finally:
        stop_child(worker)
    return Run("rapport (peers agent)", n, n / span, 1e3 * cpu / n, cpu, rss), found


def differences(left: dict[str, bytes], right: dict[str, bytes]) -> int:
    """Events whose outputs differ (or are missing on one side)."""
    keys = left.keys() | right.keys()
    return sum(
        1
        for k in keys
        if k not in left or k not in right or orjson.loads(left[k]) != orjson.loads(right[k])
    )


def run_peers_bench(settings: Settings, args: argparse.Namespace) -> int:
    n: int = args.events
    run = isolated(settings, "peers", web_port=free_port(), agents="peers", drafting_enabled=False)
    source = run.topic_name("interactions")
    sinks = [f"{run.topic_prefix}{name}" for name in ("bare-out", "quix-out", "peer-features")]
    asyncio.run(create_topics(run, [source, *sinks]))
    asyncio.run(produce(run, source, feature_events(n, run.app_id)))
    print(f"peers: {n:,} events of {max(100, n // 10):,} customers pre-loaded on {source}")
    floor, _ = bare(run, source, sinks[0], n)
    theirs, quix_out = quix(run, source, sinks[1], n)
    ours, rapport_out = rapport(run, n)
    differ = differences(quix_out, rapport_out)
    report([floor, theirs, ours], differ, n)
    ratio = ours.events_per_s / theirs.events_per_s
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"runs": [asdict(r) for r in (floor, theirs, ours)], "ratio": ratio, "differ": differ},
            indent=2,
        )
    )
    shutil.rmtree(run.data_dir, ignore_errors=True)
    return 0 if differ == 0 else 1


def report(runs: list[Run], differ: int, n: int) -> None:
    floor, theirs, ours = runs
    print(
        f"\n{'engine':<40} {'events/s':>10} {'vs bare':>8} {'CPU ms/event':>13} "
        f"{'CPU s':>7} {'peak RSS MiB':>13}"
    )
    for r in runs:
        print(
            f"{r.engine:<40} {r.events_per_s:>10,.0f} {r.events_per_s / floor.events_per_s:>8.3f} "
            f"{r.cpu_ms_per_event:>13.3f} {r.cpu_s:>7.1f} {r.peak_rss_mib:>13.0f}"
        )
    ratio = ours.events_per_s / theirs.events_per_s
    cpu = ours.cpu_ms_per_event / max(1e-9, theirs.cpu_ms_per_event)
    print(
        f"\nrapport / Quix Streams: {ratio:.2f}x the events/s (target >= {TARGET_RATIO:g}x), "
        f"{cpu:.2f}x the CPU per event (target <= 1)"
    )
    same = "identical" if differ == 0 else f"{differ:,} DIFFERENT"
    print(f"outputs of Quix Streams and Rapport, event by event: {same} ({n:,} events)")
