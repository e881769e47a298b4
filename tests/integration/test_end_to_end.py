"""The first end-to-end path through a real worker on the real broker: nothing lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from aiokafka.errors import KafkaTimeoutError

from streams.core.settings import Settings
from streams.stack import control
from tests.integration.conftest import Scope
from tests.support.events_factory import batch, ids_of
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess


async def test_events_flow_through_ingest_exactly_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    sent = await produce(scope.topic("interactions"), batch(scope.name, 0, 500))
    out = await collect(scope.topic("events"), sent, timeout=60, settle=2)
    ids = ids_of([r.value for r in out])
    assert len(ids) == sent == 500
    assert set(ids) == {f"{scope.name}-{i}" for i in range(500)}
    # re-keyed by customer: every record's key is its customer_id
    assert all(
        r.key == f"c{int(i.rsplit('-', 1)[1]) % 50}".encode() for r, i in zip(out, ids, strict=True)
    )


async def test_sigkill_mid_stream_resumes_from_committed_offsets(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    topic = scope.topic("interactions")
    await produce(topic, batch(scope.name, 0, 4000))
    await collect(scope.topic("events"), 1500, timeout=60)  # mid-stream
    worker.kill()
    await produce(topic, batch(scope.name, 4000, 6000))  # arrives while the worker is dead
    worker.start()
    out = await collect(scope.topic("events"), 6000, timeout=120, settle=3)
    counts = Counter(ids_of([r.value for r in out]))
    assert set(counts) == {f"{scope.name}-{i}" for i in range(6000)}, "events were lost"
    # at-least-once: only events after the last commit may be forwarded twice, never more
    assert max(counts.values()) <= 2
    assert sum(counts.values()) - 6000 < 4000


async def test_worker_survives_broker_outage_without_restart(
    scope: Scope, start_worker: Callable[..., WorkerProcess], stack: Settings
) -> None:
    worker = start_worker()
    topic = scope.topic("interactions")
    await produce(topic, batch(scope.name, 0, 1000))
    await collect(scope.topic("events"), 1000, timeout=60)
    kafka = control.services(stack)["kafka"]
    pid = worker.proc.pid if worker.proc else None
    assert kafka.stop(), "the broker must be one this session's stack started"
    await asyncio.sleep(20)
    assert worker.alive(), f"worker died while the broker was down:\n{worker.log_tail()}"
    kafka.start()
    for attempt in range(3):  # the restarted broker may not serve metadata at once
        try:
            await produce(topic, batch(scope.name, 1000, 2000))
            break
        except KafkaTimeoutError:  # sent again: the ingest drops the ids it already has
            if attempt == 2:
                raise
    out = await collect(scope.topic("events"), 2000, timeout=180, settle=2)
    ids = set(ids_of([r.value for r in out]))
    assert ids == {f"{scope.name}-{i}" for i in range(2000)}, "events were lost"
    assert worker.alive() and worker.proc is not None and worker.proc.pid == pid
    worker.wait_ready(120)
