"""``rapport bench state``: bytes of feature state per customer, and the engine's rate.

Applies seeded synthetic events (Zipf-distributed customers, sessions, daily rhythm)
to a :class:`~features.engine.FeatureEngine` over an in-memory table, then reports the
encoded state size per customer (what the ``features`` table and its changelog hold per
key) and the engine's events/s without Kafka. Model-side state (recent texts, the last
insight values, pending churn holds) lives in the per-partition model checkpoints and is
reported by ``rapport_scoring_checkpoint_bytes``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson

from features.definitions import Rules
from features.engine import FeatureEngine
from schemas.events import parse_event
from streams.replay import synthetic

TARGET_BYTES = 1024


def run_state_bench(args: argparse.Namespace) -> int:
    n: int = args.events
    table: dict[str, bytes] = {}
    engine = FeatureEngine(table, {}, Rules())
    raws = [
        orjson.dumps(r.event) for r in synthetic(seed=3, limit=n, n_customers=max(100, n // 10))
    ]
    started = time.perf_counter()
    for offset, raw in enumerate(raws):
        engine.process(parse_event(raw), 0, offset)
    elapsed = time.perf_counter() - started
    sizes = sorted(len(v) for v in table.values())
    p99 = sizes[min(len(sizes) - 1, int(0.99 * len(sizes)))]
    print(f"{n:,} events, {len(sizes):,} customers, feature engine {n / elapsed:,.0f} events/s")
    print(
        f"feature state per customer: mean {statistics.mean(sizes):,.0f} B, median "
        f"{statistics.median(sizes):,.0f} B, p99 {p99:,} B, max {sizes[-1]:,} B "
        f"(target <= {TARGET_BYTES:,} B)"
    )
    return 0
