"""Replaying each real dataset: every event processed or dead-lettered, none twice;
and the dedup table survives a restart (a replay of the same ids forwards nothing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from streams.replay import SOURCES, merge
from streams.replay.produce import produce_records
from tests.integration.conftest import Scope
from tests.support.events_factory import ids_of
from tests.support.kafka_io import collect, end_offsets, wait_committed
from tests.support.workers import WorkerProcess

PER_SOURCE = 600


async def test_replay_of_each_dataset_lands_every_event_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    settings = scope.settings()
    sources = [SOURCES[name](seed=3, limit=PER_SOURCE) for name in sorted(SOURCES)]
    stats = await produce_records(settings, merge(*sources))
    assert stats.produced == PER_SOURCE * len(SOURCES)
    assert set(stats.by_type) >= {"message", "label", "subscription", "order", "page_view"}

    out = await collect(scope.topic("events"), stats.produced, timeout=120, settle=3)
    dlq = await collect(scope.topic("dlq"), 0, timeout=1, settle=1)
    forwarded = Counter(ids_of([r.value for r in out]))
    assert max(forwarded.values()) == 1, "an event was forwarded twice"
    assert len(forwarded) + len(dlq) == stats.produced
    assert dlq == [], [r.json()["reason"] for r in dlq[:3]]
    by_source = Counter(event_id.split("-", 1)[0] for event_id in forwarded)
    assert by_source == {name: PER_SOURCE for name in SOURCES}


@pytest.mark.parametrize("restart", ["sigterm", "sigkill"])
async def test_duplicates_are_dropped_across_restarts(
    scope: Scope, start_worker: Callable[..., WorkerProcess], restart: str
) -> None:
    worker = start_worker()
    settings = scope.settings()
    first = await produce_records(settings, SOURCES["bitext"](seed=1, limit=300))
    await collect(scope.topic("events"), first.produced, timeout=60)
    # the dedup changelog is flushed before each commit: once the group committed its
    # input, a kill at any moment keeps the ids it has seen
    ends = await end_offsets(scope.topic("interactions"), first.produced)
    await wait_committed(scope.env()["RAPPORT_APP_ID"], ends, timeout=60)
    if restart == "sigkill":
        worker.kill()
    else:
        worker.stop()
    worker.start()
    await produce_records(settings, SOURCES["bitext"](seed=1, limit=300))  # the same ids
    out = await collect(scope.topic("events"), first.produced, timeout=30, settle=5)
    forwarded = Counter(ids_of([r.value for r in out]))
    assert len(forwarded) == first.produced
    assert max(forwarded.values()) == 1, "a replayed duplicate was forwarded"
