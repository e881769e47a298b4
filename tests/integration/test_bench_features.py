"""``rapport bench features`` end to end, small: 2,000 events and 5,000 customers of state.

Runs the bench's own entry point on the real stack (a bare aiokafka loop, a worker with
only the ingest and features agents, a seeded changelog and two timed starts), then
checks that its JSON figures add up: every event forwarded and applied, one state per
customer in the changelog, the seeded customers all read back, a fresh node recovering
every one of them and a restart on the same data dir recovering none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.bench.features import run_features_bench
from streams.core.settings import Settings

EVENTS = 2_000
CUSTOMERS = 5_000


async def _topics(settings: Settings) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = await admin.list_topics()
        return [t for t in names if t.startswith((settings.app_id, settings.topic_prefix))]
    finally:
        await admin.close()


def test_bench_features_figures_add_up(stack: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = stack.model_copy(
        update={
            "topic_prefix": f"t.benchfeat-{tag}.",
            "app_id": f"t-benchfeat-{tag}",
            "redis_key_prefix": f"t:benchfeat-{tag}:",
            "data_dir": tmp_path,
        }
    )
    out = tmp_path / "features.json"
    args = argparse.Namespace(events=EVENTS, customers=CUSTOMERS, json=str(out))
    assert run_features_bench(settings, args) == 0
    doc = json.loads(out.read_text())

    baseline, feats = doc["results"]
    assert baseline["events"] == feats["events"] == EVENTS
    assert baseline["events_per_s"] > 0 and feats["events_per_s"] > 0
    assert feats["cpu_s"] > 0 and feats["peak_rss_mb"] > 0
    assert baseline["cpu_s"] > 0 and baseline["peak_rss_mb"] > 0  # the loop's own usage
    ratio = doc["ratio_vs_baseline"]["ingest+features"]
    assert abs(ratio - feats["events_per_s"] / baseline["events_per_s"]) < 1e-9
    run = doc["throughput_run"]
    assert run["forwarded"] == EVENTS, "every event forwarded to events once"
    assert run["applied"] == EVENTS, "every event applied by the feature agent"

    sizes = doc["state_bytes"]
    assert sizes["customers"] == run["customers_produced"] > 100, "one state per customer"
    assert 0 < sizes["median"] <= sizes["p99"] <= sizes["max"]
    assert 0 < sizes["mean"] <= sizes["max"]

    restart = doc["restart"]
    assert restart["seeded"] == restart["in_changelog"] == CUSTOMERS
    fresh, again = restart["cases"]
    assert fresh["recovered"] == CUSTOMERS, "a fresh node recovers the whole changelog"
    assert again["recovered"] == 0, "a restart on the same data dir recovers nothing"
    assert fresh["seconds"] > 0 and again["seconds"] > 0
    assert fresh["recoveries"] >= 1 and again["recoveries"] >= 1

    assert asyncio.run(_topics(settings)) == [], "the bench deletes its topics"
