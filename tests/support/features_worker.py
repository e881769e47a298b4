"""Shared steps of the feature integration tests: replay, batch truth, convergence, metrics."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence

import orjson
from prometheus_client.parser import text_string_to_metric_families

from features.batch import recompute
from features.definitions import Rules, Vector
from features.store import FeatureStore
from schemas.events import Event, parse_event
from streams.core.settings import Settings
from streams.replay import ReplayRecord, merge, synthetic, telco
from streams.replay.datasets import bitext
from streams.replay.produce import encode
from tests.integration.conftest import Scope
from tests.support.features import diff
from tests.support.kafka_io import produce

# what every feature test worker runs with: fast flushes and snapshots, and a short
# Kafka session so a SIGKILLed member leaves the group in seconds (Faust reads these)
WORKER_ENV = {
    "RAPPORT_FEATURES_FLUSH_INTERVAL_S": "0.25",
    "RAPPORT_FEATURES_SNAPSHOT_INTERVAL_S": "1",
    "RAPPORT_FEATURES_REDIS_TTL_S": "900",  # test hashes expire from the shared Redis
    "BROKER_SESSION_TIMEOUT": "10",
    "BROKER_HEARTBEAT_INTERVAL": "1",
}


def replay(n: int, seed: int) -> list[ReplayRecord]:
    """Real Bitext and Telco records merged with synthetic ones, out of order and late."""
    syn = synthetic(
        seed=seed, limit=n, n_customers=400, disorder=0.08, late=0.04, sessions_per_hour=60.0
    )
    real = merge(bitext(seed=seed, limit=n // 6), telco(seed=seed, limit=n // 12))
    return list(merge(syn, real))


def wire(records: Sequence[ReplayRecord], id_prefix: str = "") -> list[tuple[bytes, bytes]]:
    return [encode(r, id_prefix) for r in records]


def events_of(pairs: Sequence[tuple[bytes, bytes]]) -> list[Event]:
    return [parse_event(value) for _, value in pairs]


def truth(pairs: Sequence[tuple[bytes, bytes]], settings: Settings) -> dict[str, Vector]:
    """The batch recomputation over everything produced, in production order."""
    rules = Rules(
        lateness_s=settings.features_allowed_lateness_s,
        cart_abandon_s=settings.features_cart_abandon_s,
        base_currency=settings.features_base_currency,
    )
    return recompute(events_of(pairs), rules)


async def send(scope: Scope, pairs: Sequence[tuple[bytes, bytes]]) -> int:
    return await produce(scope.topic("interactions"), pairs)


async def served(settings: Settings, customers: Sequence[str]) -> dict[str, Vector]:
    store = FeatureStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix, 60)
    try:
        found = await store.read_many(list(customers))
    finally:
        await store.close()
    return {c: s.features for c, s in found.items() if s is not None}


async def converge(
    scope: Scope, expected: dict[str, Vector], customers: Sequence[str], timeout: float = 120.0
) -> list[str]:
    """Poll Redis until it holds exactly ``expected`` for ``customers``; the differences."""
    settings = scope.settings()
    deadline = time.monotonic() + timeout
    problems: list[str] = ["not polled"]
    while time.monotonic() < deadline:
        got = await served(settings, customers)
        problems = diff(got, {c: v for c, v in expected.items() if c in customers})
        if not problems:
            return []
        await asyncio.sleep(1.0)
    return problems


def scrape(port: int) -> Counter[str]:
    """Feature outcome counters (and ``in``: events the agent consumed) of one worker."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "rapport_features_events_total":
                counts[sample.labels["outcome"]] += int(sample.value)
            elif sample.name == "rapport_events_in_total" and sample.labels["agent"] == "features":
                counts["in"] += int(sample.value)
    return counts


def processed(port: int) -> int:
    try:
        return scrape(port)["in"]
    except OSError:
        return 0


async def wait_processed(port: int, at_least: int, timeout: float = 120.0) -> int:
    """Poll (every 50 ms) until the worker's feature agent consumed ``at_least`` events."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = processed(port)
        if count >= at_least:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError(f"the feature agent consumed only {count} of {at_least} events")


def features_json(body: object) -> Vector:
    """The ``features`` of an HTTP, CLI or snapshot answer, checked to be a vector."""
    assert isinstance(body, dict)
    features = body["features"]
    assert isinstance(features, dict)
    assert all(v is None or isinstance(v, int | float | str) for v in features.values())
    return features


def loads(raw: bytes) -> object:
    return orjson.loads(raw)
