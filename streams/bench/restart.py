"""``rapport bench features``, part 3: start-to-ready time of a worker holding C customers.

The ``features`` table's changelog of a fresh app id is seeded directly with C encoded
customer states: a few hundred real states, built by the feature engine from seeded
synthetic events, reused round-robin under distinct customer ids, each with the
partition its events would land in (the default partitioner on the raw id) and an offset
of its own. Then a worker (``ingest`` and ``features`` agents) is timed from process start
to ``/ready`` answering 200, twice: on a fresh node (empty local store: the whole
changelog is recovered) and restarted after a clean stop on the same data dir (local
RocksDB store kept). The records each start recovered are Faust's own figures, read from
the worker log: per changelog partition, highwater minus the offset reading started at.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from features.definitions import Rules
from features.engine import FeatureEngine
from features.state import CustomerState
from schemas.events import parse_event
from streams.bench.harness import (
    proc_stats,
)
from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.replay import synthetic
from streams.stack.procs import stop_child

TEMPLATES = 300
BATCH_BYTES = 512 * 1024
READY_TIMEOUT_S = 3600.0
_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*(\d+)\s*\|\s*(-?\d+)\s*\|\s*$")


@dataclass(frozen=True)
class ReadyTime:
    case: str
    seconds: float
    recovered: int
    recoveries: int
    cpu_s: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Restart:
    seeded: int
    in_changelog: int
    cases: list[ReadyTime]


def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-features-changelog"


def templates(count: int = TEMPLATES) -> list[CustomerState]:
    """``count`` real customer states, from seeded synthetic events through the engine."""
    table: dict[str, bytes] = {}
    engine = FeatureEngine(table, {}, Rules())
    for offset, record in enumerate(synthetic(seed=5, limit=count * 20, n_customers=count)):
        engine.process(parse_event(orjson.dumps(record.event)), 0, offset)
    return [CustomerState.from_bytes(raw) for raw in table.values()]


async def seed(settings: Settings, customers: int) -> int:
    """Produce ``customers`` states into the changelog of ``settings.app_id``; the count."""
    topic, partitions = changelog_topic(settings), settings.topic_partitions
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        config = {"cleanup.policy": "compact"}
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()
    states = templates()
    partitioner, every = DefaultPartitioner(), list(range(partitions))
    producer = AIOKafkaProducer(**client_options(settings), acks="all", max_batch_size=BATCH_BYTES)
    await producer.start()
    try:
        batches = [producer.create_batch() for _ in every]
        offsets = [0] * partitions
        sent: list[asyncio.Future[object]] = []
        for i in range(customers):
            customer = f"seed-{i:07d}"
            part = partitioner(customer.encode(), every, every)
            state = states[i % len(states)]
            state.partition, state.offset = part, offsets[part]
            offsets[part] += 1
            key, value = orjson.dumps(customer), state.to_bytes()
            if batches[part].append(key=key, value=value, timestamp=None) is None:
                sent.append(await producer.send_batch(batches[part], topic, partition=part))
                batches[part] = producer.create_batch()
                batches[part].append(key=key, value=value, timestamp=None)
        for part, batch in enumerate(batches):
            if batch.record_count():
                sent.append(await producer.send_batch(batch, topic, partition=part))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return customers


async def latest_sizes(settings: Settings, topic: str) -> dict[bytes, int | None]:
    """Every key of ``topic`` with the bytes of its latest value (None: a tombstone), read
    to the end: what compaction keeps."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    out: dict[bytes, int | None] = {}
    try:
        tps = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        ends = await consumer.end_offsets(tps) if tps else {}
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=500)).items():
                for r in records:
                    if r.key is not None:
                        out[r.key] = None if r.value is None else len(r.value)
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return out


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or set())


def recovered_records(log: str) -> tuple[int, int]:
    """Records the last recovery in a worker log read, and how many recoveries it logged."""
    highwaters = _last_table(log, "Highwater - Active")
    starts = _last_table(log, "Reading Starts At - Active")
    total = sum(max(0, hw - starts.get(tp, -1)) for tp, hw in highwaters.items())
    return total, log.count("Highwater - Active")


def _last_table(log: str, title: str) -> dict[tuple[str, int], int]:
    at = log.rfind(title)
    if at < 0:
        return {}
    out: dict[tuple[str, int], int] = {}
    topic = ""
    rows = 0
    for line in log[at:].splitlines()[1:]:
        if line.startswith("+"):
            rows += 1
            if rows >= 2 and out:  # the rule under the header, then the closing one
                break
            continue
        match = _ROW.match(line.strip())
        if match is None:
            continue
        name, part, value = match.groups()
        topic = topic if name == "〃" else name
        out[(topic, int(part))] = int(value)
    return out


def timed_start(settings: Settings, case: str, log_path: Path) -> ReadyTime:
    """Start a worker, time it to ``/ready`` 200, then stop it cleanly (SIGTERM)."""
    env = {**os.environ, **settings.to_env()}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    try:
        seconds = _wait_ready(proc, settings.web_port, started, log_path)
        cpu, rss = proc_stats(proc.pid)
    finally:
        stop_child(proc, timeout=120)  # SIGTERM, then SIGKILL
    recovered, rounds = recovered_records(log_path.read_text(errors="replace"))
    return ReadyTime(case, seconds, recovered, rounds, cpu, rss)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, started: float, log: Path) -> float:
    while time.monotonic() - started < READY_TIMEOUT_S:
        if proc.poll() is not None:
            msg = f"the worker exited with {proc.returncode}; see {log}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    msg = f"the worker was not ready within {READY_TIMEOUT_S:.0f}s; see {log}"
    raise RuntimeError(msg)


def restart_times(settings: Settings, customers: int) -> Restart:
    """Seed ``customers`` states, count them back, then time a fresh node and a restart."""
    seeded = asyncio.run(seed(settings, customers))
    latest = asyncio.run(latest_sizes(settings, changelog_topic(settings)))
    in_changelog = sum(1 for size in latest.values() if size)
    del latest
    logs = settings.data_dir / "logs"
    fresh = timed_start(settings, "fresh node (empty local store)", logs / "fresh.log")
    again = timed_start(settings, "restart, same data dir", logs / "restart.log")
    return Restart(seeded, in_changelog, [fresh, again])
