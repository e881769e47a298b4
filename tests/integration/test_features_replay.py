"""One worker, a replay of real and synthetic events (out of order and late): features
exact against the batch recomputation, served by Redis, HTTP, the CLI and the compacted
topic; then an erasure removes customers and a replay of their old events is refused."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import orjson

from tests.integration.conftest import Scope
from tests.support.features import diff
from tests.support.features_worker import (
    WORKER_ENV,
    converge,
    events_of,
    features_json,
    replay,
    scrape,
    send,
    served,
    truth,
    wire,
)
from tests.support.kafka_io import collect
from tests.support.workers import WorkerProcess

N = 3_000


async def wait_counts(worker: WorkerProcess, outcome: str, at_least: int) -> Counter[str]:
    counts = scrape(worker.port)
    for _ in range(600):
        if counts[outcome] >= at_least:
            break
        await asyncio.sleep(0.1)
        counts = scrape(worker.port)
    return counts


def rapport_features(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **worker.env}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "features", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_features_exact_served_everywhere_and_erased_for_good(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(**WORKER_ENV)
    settings = scope.settings()
    pairs = wire(replay(N, seed=11))
    await send(scope, pairs)
    expected = truth(pairs, settings)
    customers = sorted(expected)
    assert len(customers) > 500
    assert sum(int(v["late_events"] or 0) for v in expected.values()) > 20
    problems = await converge(scope, expected, customers)
    assert not problems, problems[:10]

    # HTTP: the owner's table; 404 / 400 with a JSON body
    risks = []
    for customer in customers[::50]:
        status, body = worker.get(f"/customers/{customer}/features")
        assert status == 200 and body["source"] == "table"
        assert diff({customer: features_json(body)}, {customer: expected[customer]}) == []
        risks.append(features_json(body)["churn_risk"])
    # the scoring stage fills the model-output slot: a churn risk for every scored customer
    assert all(isinstance(r, float) and 0.0 <= r <= 1.0 for r in risks), risks
    status, body = worker.get("/customers/nobody-at-all/features")
    assert status == 404 and body["error"] == "unknown_customer"
    status, body = worker.get("/customers/bad%20id/features")
    assert status == 400 and body["error"] == "bad_customer_id"

    # CLI
    done = rapport_features(worker, customers[1], "--json")
    assert done.returncode == 0, done.stderr
    answer = orjson.loads(done.stdout)
    assert diff({customers[1]: features_json(answer)}, {customers[1]: expected[customers[1]]}) == []
    done = rapport_features(worker, "nobody-at-all")
    assert done.returncode == 1 and "unknown customer 'nobody-at-all'" in done.stderr
    done = rapport_features(worker, customers[2], "--source", "redis")
    assert done.returncode == 0 and f"customer {customers[2]}" in done.stdout

    # one customer, three ways (HTTP from the owner's table, the CLI from the worker and
    # from Redis): the same values, equal to the batch recomputation
    for customer in customers[5::200]:
        status, body = worker.get(f"/customers/{customer}/features")
        assert status == 200
        answers = {"http": features_json(body)}
        for source in ("worker", "redis"):
            done = rapport_features(worker, customer, "--source", source, "--json")
            assert done.returncode == 0, done.stderr
            answers[f"cli-{source}"] = features_json(orjson.loads(done.stdout))
        for way, features in answers.items():
            assert diff({customer: features}, {customer: expected[customer]}) == [], way
        assert answers["http"].keys() == answers["cli-worker"].keys() == answers["cli-redis"].keys()
        assert diff({customer: answers["cli-redis"]}, {customer: answers["http"]}) == []
        assert diff({customer: answers["cli-worker"]}, {customer: answers["http"]}) == []

    # the compacted topic: the latest snapshot of each customer is its final state
    snapshots = await collect(scope.topic("features"), len(customers), timeout=60, settle=3)
    latest = {r.key.decode(): r.json() for r in snapshots if r.key is not None}
    assert set(latest) == set(customers)
    assert diff({c: features_json(s) for c, s in latest.items()}, expected) == []
    assert len(snapshots) < sum(int(v["events"] or 0) for v in expected.values()) / 2

    # state size: the latest changelog value of every customer
    changelog = await collect(f"{settings.app_id}-features-changelog", len(customers), settle=3)
    sizes = sorted({r.key: len(r.value or b"") for r in changelog}.values())  # keys: JSON
    p99 = sizes[int(len(sizes) * 0.99)]
    print(
        f"state bytes: mean {statistics.mean(sizes):.0f} p50 {sizes[len(sizes) // 2]} "
        f"p99 {p99} max {sizes[-1]} over {len(sizes)} customers"
    )
    assert p99 <= 1024

    # erasure: table entry, Redis hash and topic record gone; old events refused later
    erased = [c for c in customers if c.startswith("syn-cust-")][:3]
    erasures = []
    for k, customer in enumerate(erased):
        latest_at = max(e.occurred_at for e in events_of(pairs) if e.customer_id == customer)
        erasures.append(
            (
                customer.encode(),
                orjson.dumps(
                    {
                        "type": "erasure",
                        "event_id": f"{scope.name}-erase-{k}",
                        "customer_id": customer,
                        "occurred_at": (latest_at + timedelta(seconds=1)).isoformat(),
                        "source": "test",
                    }
                ),
            )
        )
    await send(scope, erasures)
    old = [(k, v) for k, v in pairs if k.decode() in erased]
    again = [(k, v.replace(b'"event_id":"', b'"event_id":"again-')) for k, v in old]
    await send(scope, again)
    everything = pairs + erasures + again
    expected_after = truth(everything, settings)
    assert not set(erased) & set(expected_after)
    problems = await converge(scope, expected_after, customers)
    assert not problems, problems[:10]
    assert await served(settings, erased) == {}
    for customer in erased:
        status, body = worker.get(f"/customers/{customer}/features")
        assert status == 404, body
    counts = await wait_counts(worker, "erased", len(again))
    assert counts["erasure"] == len(erased)
    assert counts["erased"] == len(again), "every old event of an erased customer refused"
    assert await served(settings, erased) == {}
    changelog = await collect(f"{settings.app_id}-features-changelog", len(changelog) + 1, settle=3)
    final = {r.key: r.value for r in changelog}
    assert all(final[orjson.dumps(c)] is None for c in erased), "tombstones in the changelog"
    topic = await collect(scope.topic("features"), len(snapshots) + len(erased), settle=2)
    last = {r.key: r.value for r in topic}
    assert all(last[c.encode()] is None for c in erased), "tombstones on the features topic"
