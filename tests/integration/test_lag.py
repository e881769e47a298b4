"""Operators' lag: rises in messages and seconds while the worker is stopped, falls to zero."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from streams.lag import group_lag
from tests.integration.conftest import Scope
from tests.support.events_factory import batch
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess


def lag_gauges(port: int, topic: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("rapport_consumer_lag_") and s.labels.get("topic") == topic:
                out[s.name] = out.get(s.name, 0.0) + s.value
    return out


async def wait_for(check: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.5)


async def test_lag_rises_while_stopped_and_returns_to_zero(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = scope.settings()
    topic = scope.topic("interactions")
    worker = start_worker()
    await produce(topic, batch(scope.name, 0, 500))
    await collect(scope.topic("events"), 500, timeout=60)
    await asyncio.sleep(2)  # let the worker commit
    worker.stop()

    await produce(topic, batch(scope.name, 500, 1300))
    first = await group_lag(settings, settings.app_id, [topic])
    assert sum(p.messages for p in first) == 800
    await asyncio.sleep(2)
    second = await group_lag(settings, settings.app_id, [topic])
    assert sum(p.messages for p in second) == 800
    assert max(p.seconds for p in second) > max(p.seconds for p in first) > 0
    # by event time: the events occurred 5 s before they were produced
    pending = [p for p in second if p.messages]
    assert pending and all(p.event_seconds >= p.seconds + 4.0 for p in pending), pending

    worker.start()
    await collect(scope.topic("events"), 1300, timeout=90)

    async def drained() -> bool:
        lags = await group_lag(settings, settings.app_id, [topic])
        return sum(p.messages for p in lags) == 0 and max(p.seconds for p in lags) == 0 == max(
            p.event_seconds for p in lags
        )

    deadline = time.monotonic() + 60
    while not await drained():
        assert time.monotonic() < deadline, "lag did not return to zero"
        await asyncio.sleep(1)
    # the worker exports the same view on /metrics
    await wait_for(
        lambda: lag_gauges(worker.port, topic).get("rapport_consumer_lag_messages") == 0.0, 30
    )
    gauges = lag_gauges(worker.port, topic)
    assert gauges["rapport_consumer_lag_seconds"] == 0.0
    assert gauges["rapport_consumer_lag_event_seconds"] == 0.0
