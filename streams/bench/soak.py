"""``rapport bench soak``: one worker under a steady stream, its memory every minute.

A worker (drafting on or off, ``RAPPORT_MEMORY_TRACE`` on) is fed seeded synthetic
events (page views, carts, orders, messages, tickets, ratings of ``--population``
customers) at ``--rate`` events/s for ``--minutes``, each stamped with the time it is
sent (the replay's own timeline runs ahead of the clock and would be refused as future
events). Every ``--every`` seconds (60 by default) it prints the worker's RSS (less
tracemalloc's own bookkeeping, which is the tracer's and not the worker's), its traced
Python heap, RocksDB's memory (memtables, block cache, table readers), the memory chDB
tracks (the embedded ClickHouse engine of the sink), the feature
table's keys in the worker's partitions, the decoded states the feature engine keeps
(``states``), the event ids in ingest's dedup index, the group's lag and what ingest has
consumed.
The heap is marked at the end of the warm-up (``--warmup-minutes``, 5 by default); at
the end the bench waits for lag 0, prints the allocation sites that grew most since the
mark, RocksDB's memory per table, RSS at the end against RSS at the mark (the target:
within 10%), and whether every event sent came out of ingest (forwarded, duplicate or
dead-lettered). The tracer slows the worker by ~10-30% (more with
``RAPPORT_MEMORY_TRACE_FRAMES`` above 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.bench.harness import isolated
from streams.core.kafka_client import client_options
from streams.core.settings import Settings
from streams.lag import group_lag
from streams.replay import synthetic
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker
from streams.topics import topic_specs

DRAIN_TIMEOUT_S = 600.0
STABLE_S = 7.0
ACCOUNTED = frozenset({"rapport_events_out_total", "rapport_duplicates_dropped_total"})
"""Where each record ingest consumed ends: forwarded or dead-lettered, or a duplicate."""


@dataclass
class Sample:
    minute: float
    rss_mib: float
    """Resident memory less tracemalloc's own (the tracer's bookkeeping is not the worker's)."""
    heap_mib: float
    rocksdb_mib: float
    chdb_mib: float
    feature_keys: int
    cached_states: int
    dedup_ids: int
    lag: int
    sent: int
    consumed: int


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def figures(port: int) -> dict[str, float]:
    """The features table's keys here, and ingest's outcomes (forwarded, dead-lettered,
    duplicates), from the worker's ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {"feature_keys": 0.0, "ingested": 0.0, "accounted": 0.0, "dedup": 0.0, "cached": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "rapport_table_keys" and labels.get("table") == "features":
                out["feature_keys"] = sample.value
            elif sample.name == "rapport_dedup_entries":
                out["dedup"] = sample.value
            elif sample.name == "rapport_features_cached_states":
                out["cached"] = sample.value
            elif sample.name == "rapport_events_in_total" and labels.get("agent") == "ingest":
                out["ingested"] = sample.value
            elif sample.name in ACCOUNTED and labels.get("agent", "ingest") == "ingest":
                out["accounted"] += sample.value
    return out


def heap(port: int, query: str = "top=0") -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/debug/heap?{query}"
    with urllib.request.urlopen(url, timeout=60) as resp:
        found: dict[str, Any] = json.loads(resp.read())
    return found


def chdb_mib(port: int) -> float:
    """Memory the embedded ClickHouse engine (chDB) tracks, through the worker's ``/sql``;
    0 when the worker does not own a chDB path."""
    query = urllib.parse.urlencode(
        {
            "query": "SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'",
            "format": "csv",
        }
    )
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sql?{query}", timeout=30) as resp:
            lines = resp.read().decode().split()
    except (OSError, ValueError):
        return 0.0
    return int(lines[-1]) / 2**20 if len(lines) > 1 and lines[-1].isdigit() else 0.0


def stream(seed: int, customers: int, run: str) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Endless synthetic events with ids unique to ``run`` (stamped at send)."""
    for record in synthetic(seed=seed, n_customers=customers):
        event = dict(record.event)
        event["event_id"] = f"{run}-{event['event_id']}"
        yield record.customer_id.encode(), event


class Soak:
    """The run: a producer at a steady rate, a sampler, the report."""

    def __init__(self, settings: Settings, pid: int, args: argparse.Namespace) -> None:
        self.settings = settings
        self.pid = pid
        self.rate: float = args.rate
        self.seconds: float = args.minutes * 60
        self.warmup_s: float = min(args.warmup_minutes * 60, self.seconds)
        self.every: float = args.every
        self.customers: int = args.population
        self.sent = 0
        self.started = time.monotonic()
        self.samples: list[Sample] = []
        self.tag = settings.app_id

    async def produce(self) -> None:
        producer = AIOKafkaProducer(**client_options(self.settings), acks="all", linger_ms=5)
        await producer.start()
        topic = self.settings.topic_name("interactions")
        events = stream(7, self.customers, self.tag)
        try:
            while (elapsed := time.monotonic() - self.started) < self.seconds:
                ahead = self.sent / self.rate - elapsed
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
                key, event = next(events)
                event["occurred_at"] = datetime.now(UTC).isoformat()
                await producer.send(topic, key=key, value=orjson.dumps(event))
                self.sent += 1
            await producer.flush()
        finally:
            await producer.stop()

    async def lag(self) -> int:
        topics = [self.settings.topic_name(s.role) for s in topic_specs(self.settings)]
        found = await group_lag(self.settings, self.settings.app_id, topics, consumed_only=True)
        return sum(p.messages for p in found)

    async def sample(self) -> Sample:
        port = self.settings.web_port
        metrics = figures(port)
        traced = await asyncio.to_thread(heap, port)
        found = Sample(
            minute=(time.monotonic() - self.started) / 60,
            rss_mib=rss_mib(self.pid) - traced["tracer_bytes"] / 2**20,
            heap_mib=traced["traced_bytes"] / 2**20,
            rocksdb_mib=sum(sum(t.values()) for t in traced["rocksdb"].values()) / 2**20,
            chdb_mib=await asyncio.to_thread(chdb_mib, port),
            feature_keys=int(metrics["feature_keys"]),
            cached_states=int(metrics["cached"]),
            dedup_ids=int(metrics["dedup"]),
            lag=await self.lag(),
            sent=self.sent,
            consumed=int(metrics["ingested"]),
        )
        self.samples.append(found)
        print(
            f"{found.minute:6.1f} {found.rss_mib:9.0f} {found.heap_mib:9.1f} "
            f"{found.rocksdb_mib:9.1f} {found.chdb_mib:9.1f} "
            f"{found.feature_keys:9,} {found.cached_states:7,} {found.dedup_ids:9,} "
            f"{found.lag:8,} {found.sent:10,} {found.consumed:10,}",
            flush=True,
        )
        return found

    async def sampler(self) -> Sample:
        """Samples until the end; marks the heap after the warm-up; the warm-up's sample."""
        print(
            f"{'minute':>6} {'rss MiB':>9} {'heap MiB':>9} {'rocksdb':>9} {'chdb':>9} "
            f"{'features':>9} {'states':>7} {'dedup':>9} "
            f"{'lag':>8} "
            f"{'sent':>10} {'consumed':>10}",
            flush=True,
        )
        marked: Sample | None = None
        next_at = 0.0
        while (elapsed := time.monotonic() - self.started) < self.seconds:
            if marked is None and elapsed >= self.warmup_s:
                # the mark first: its snapshot (a copy of every trace, kept to the end)
                # is then in the marked RSS, not counted as growth
                await asyncio.to_thread(heap, self.settings.web_port, "mark=1&top=0")
                marked = await self.sample()
                next_at = elapsed + self.every
            elif elapsed >= next_at:
                await self.sample()
                next_at = elapsed + self.every
            await asyncio.sleep(min(1.0, max(0.05, next_at - elapsed)))
        return marked if marked is not None else self.samples[0]

    async def drained(self) -> bool:
        """Lag 0 on every topic the group reads, and still 0 ``STABLE_S`` later (feature
        snapshots follow their events by up to the snapshot interval)."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        zero_since: float | None = None
        while time.monotonic() < deadline:
            now = time.monotonic()
            if await self.lag() == 0:
                zero_since = now if zero_since is None else zero_since
                if now - zero_since >= STABLE_S:
                    return True
            else:
                zero_since = None
            await asyncio.sleep(1.0)
        return False

    async def run(self) -> int:
        producing = asyncio.ensure_future(self.produce())
        marked = await self.sampler()
        await producing
        drained = await self.drained()
        end = await self.sample()
        report = await asyncio.to_thread(heap, self.settings.web_port, "top=25")
        grown = report["grown"]
        out = figures(self.settings.web_port)["accounted"]
        growth = (end.rss_mib - marked.rss_mib) / max(1.0, marked.rss_mib)
        print(f"\nsites grown most since minute {marked.minute:.1f} (Python heap):")
        for site in grown:
            print(
                f"  {site['size_diff'] / 2**20:+8.2f} MiB {site['count_diff']:+9,}  {site['site']}"
            )
        print("\nlargest sites at the end (Python heap):")
        for site in report["largest"]:
            print(f"  {site['size'] / 2**20:8.2f} MiB {site['count']:>10,}  {site['site']}")
        print("\nRocksDB memory at the end (MiB: memtables / block cache / table readers):")
        for table, sizes in sorted(report["rocksdb"].items()):
            print(f"  {table:<28} " + " / ".join(f"{v / 2**20:.2f}" for v in sizes.values()))
        print(
            f"\nRSS {marked.rss_mib:.0f} MiB at minute {marked.minute:.1f} -> "
            f"{end.rss_mib:.0f} MiB at the end ({growth:+.1%}; target within 10%)"
        )
        lost = self.sent - int(out)
        print(
            f"sent {self.sent:,}; out of ingest {int(out):,} (forwarded, duplicates, dead "
            f"letters): {'nothing lost' if lost <= 0 else f'{lost:,} NOT ACCOUNTED FOR'}; "
            f"lag {'0' if drained else f'{end.lag:,} after {DRAIN_TIMEOUT_S:.0f} s'}"
        )
        return 0 if lost <= 0 and drained else 1


def run_soak(settings: Settings, args: argparse.Namespace) -> int:
    """``rapport bench soak`` (module docstring)."""
    run = isolated(settings, "soak", drafting_enabled=args.drafting == "on", memory_trace=True)
    worker = start_worker(run)
    print(
        f"soak: {args.rate:g} events/s for {args.minutes:g} min, drafting {args.drafting}, "
        f"worker pid {worker.pid}, warm-up {args.warmup_minutes:g} min",
        flush=True,
    )
    try:
        return asyncio.run(Soak(run, worker.pid, args).run())
    finally:
        stop_child(worker)
