"""``rapport bench state``: bytes of state per customer and per event id, and the rate.

Applies N seeded synthetic events (Zipf-distributed customers, sessions, daily rhythm;
``--customers`` of them) to a :class:`~features.engine.FeatureEngine` over an in-memory
table, and their N distinct event ids to ingest's dedup index (4 partitions, as a worker
holding every partition of the default topics), then reports:

- the encoded feature state per customer (what the ``features`` table and its changelog
  hold per key), against the 1 KB target;
- the feature engine's memory in the process (its decoded states, bounded by
  ``RAPPORT_FEATURES_CACHE_CUSTOMERS``, and its recent event ids), traced by tracemalloc;
- the dedup index's memory (traced) and its table records, per event id;
- the engine's events/s without Kafka (with tracemalloc on: ~2x slower than a worker).

Model-side state (recent texts, the last insight values, pending churn holds) lives in
the per-partition model checkpoints and is reported by ``rapport_scoring_checkpoint_bytes``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import orjson

from agents.dedup import Limits, PartitionIds, hash_id
from features.definitions import Rules
from features.engine import FeatureEngine
from schemas.events import parse_event
from streams.core.settings import Settings
from streams.replay import synthetic

TARGET_BYTES = 1024
PARTITIONS = 4
BATCH = 500


def dedup_bytes(event_ids: list[str], settings: Settings) -> tuple[int, int, int]:
    """Traced bytes of ingest's dedup index holding ``event_ids`` (spread over the
    partitions, in batches), the bytes of its table records, and the ids it holds."""
    limits = Limits(
        float(settings.dedup_horizon_s), settings.dedup_max_ids, settings.dedup_seal_ids
    )
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    indexes = [PartitionIds(p, limits) for p in range(PARTITIONS)]
    table: dict[str, bytes] = {}
    for start in range(0, len(event_ids), BATCH):
        for offset, event_id in enumerate(event_ids[start : start + BATCH], start):
            digest = hash_id(event_id)
            indexes[digest % PARTITIONS].first_time(digest, offset)
        for index in indexes:
            for key, value in index.end_batch(float(start)):
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    records = sum(len(k) + len(v) for k, v in table.items())
    return held - records, records, sum(i.size for i in indexes)


def run_state_bench(args: argparse.Namespace) -> int:
    n: int = args.events
    customers: int = args.customers
    settings = Settings()
    raws = [orjson.dumps(r.event) for r in synthetic(seed=3, limit=n, n_customers=customers)]
    ids = [orjson.loads(raw)["event_id"] for raw in raws]
    table: dict[str, bytes] = {}
    tracemalloc.start()
    engine = FeatureEngine(
        table,
        {},
        Rules(),
        dedup_span=settings.features_dedup_span,
        cache_max=settings.features_cache_customers,
    )
    started = time.perf_counter()
    for offset, raw in enumerate(raws):
        engine.process(parse_event(raw), offset % PARTITIONS, offset)
    elapsed = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    sizes = sorted(len(v) for v in table.values())
    stored = sum(len(k) + len(v) for k, v in table.items())
    p99 = sizes[min(len(sizes) - 1, int(0.99 * len(sizes)))]
    print(f"{n:,} events, {len(sizes):,} customers, feature engine {n / elapsed:,.0f} events/s")
    print(
        f"feature state per customer: mean {statistics.mean(sizes):,.0f} B, median "
        f"{statistics.median(sizes):,.0f} B, p99 {p99:,} B, max {sizes[-1]:,} B "
        f"(target <= {TARGET_BYTES:,} B); {stored / 2**20:,.1f} MiB in the table"
    )
    in_memory = max(0, traced - stored)
    print(
        f"feature engine in memory: {in_memory / 2**20:,.1f} MiB ({len(engine.cache):,} "
        f"decoded states, at most RAPPORT_FEATURES_CACHE_CUSTOMERS="
        f"{settings.features_cache_customers:,}; recent ids of "
        f"RAPPORT_FEATURES_DEDUP_SPAN={settings.features_dedup_span:,} offsets a partition)"
    )
    held, records, kept = dedup_bytes(ids, settings)
    print(
        f"dedup index: {kept:,} of {len(ids):,} event ids kept, {held / 2**20:,.1f} MiB in "
        f"memory ({held / max(1, kept):,.1f} B per id), {records / 2**20:,.1f} MiB of table "
        f"records; at most RAPPORT_DEDUP_MAX_IDS={settings.dedup_max_ids:,} a partition"
    )
    return 0
