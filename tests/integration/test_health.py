"""Operators' probes on a real worker: ``/health``, ``/ready``, a memory-store worker and
``rapport status`` (services, worker readiness, lag per partition)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable

from streams.topics import create_topics
from tests.integration.conftest import Scope
from tests.support.events_factory import batch, ids_of
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

READY_FIELDS = {"ready", "assigned_partitions", "tables_recovered", "rebalancing"}


def test_health_and_ready_from_start_to_assigned(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(wait_ready=0)
    not_ready: list[tuple[dict[str, object], int]] = []  # (/ready body, /health status) pairs
    ready: dict[str, object] | None = None
    deadline = time.monotonic() + 120
    while ready is None:
        assert time.monotonic() < deadline, f"never ready:\n{worker.log_tail()}"
        assert worker.alive(), worker.log_tail()
        try:
            status, body = worker.get("/ready")
        except (OSError, ValueError):  # the web server is not listening yet
            time.sleep(0.05)
            continue
        if status == 200:
            ready = body
        else:
            assert status == 503, body
            not_ready.append((body, worker.get("/health")[0]))
            time.sleep(0.05)
    # before partitions were assigned and tables recovered, /ready said why, /health was live
    assert not_ready, "the web server answered only once the worker was ready"
    body, health_status = not_ready[0]
    assert set(body) == READY_FIELDS
    assert body["ready"] is False
    assert body["assigned_partitions"] == 0 or body["tables_recovered"] is False
    assert health_status == 200
    # then ready: partitions assigned, tables recovered, no rebalance running
    assert set(ready) == READY_FIELDS
    assert ready["ready"] is True
    assert isinstance(ready["assigned_partitions"], int)
    assert ready["assigned_partitions"] > 0
    assert ready["tables_recovered"] is True
    assert ready["rebalancing"] is False
    assert worker.get("/health") == (200, {"status": "ok", "app": f"t-{scope.name}"})
    # ready means consuming: the worker created its topics itself here, and a topic
    # created while it joined must not be left out of its assignment
    events = batch(scope.name, 0, 20)
    asyncio.run(produce(scope.topic("interactions"), events))
    forwarded = asyncio.run(collect(scope.topic("events"), 20, timeout=60, settle=1.0))
    assert sorted(ids_of([r.value for r in forwarded])) == sorted(ids_of([v for _, v in events]))
    # the heap was frozen out of the cyclic collector's reach when built and when ready
    log = worker.log_path.read_text(errors="replace")
    assert "objects frozen (app built)" in log, log[-2000:]
    assert "objects frozen (worker ready)" in log, log[-2000:]


async def test_memory_store_worker_processes_and_deduplicates(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    await create_topics(scope.settings())  # see the status test
    worker = start_worker(RAPPORT_STORE="memory")
    events = batch(scope.name, 0, 300)
    await produce(scope.topic("interactions"), events)
    await produce(scope.topic("interactions"), events[:100])  # replayed ids: dropped
    forwarded = await collect(scope.topic("events"), 300, timeout=90, settle=3.0)
    assert sorted(ids_of([r.value for r in forwarded])) == sorted(ids_of([v for _, v in events]))
    assert worker.get("/ready")[0] == 200
    assert not list((scope.data_dir / "workers").rglob("*.db")), "a rocksdb table was opened"


async def test_status_prints_services_and_lag_per_partition(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    # topics first: a topic the worker creates itself can miss its first assignment
    await create_topics(scope.settings())
    worker = start_worker(RAPPORT_DRAFTING_ENABLED="false")  # the LLM stays free to answer
    await produce(scope.topic("interactions"), batch(scope.name, 0, 200))
    assert len(await collect(scope.topic("events"), 200, timeout=90)) == 200
    await asyncio.sleep(3.0)  # the worker commits every second
    env = {
        **os.environ,
        **scope.env(),
        "RAPPORT_WEB_PORT": str(worker.port),
        "COLUMNS": "250",
        "PYTHONIOENCODING": "utf-8",
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "streams.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [
        [cell.strip() for cell in re.split(r"[│|┃]", line)[1:-1]]
        for line in result.stdout.splitlines()
        if line.count("│") >= 3 or line.count("|") >= 3
    ]
    states = {row[0]: row[1] for row in rows if len(row) == 3}
    for service in ("kafka", "redis", "llm", "clickhouse (chDB)"):
        assert states.get(service) == "up", result.stdout
    assert states.get(f"worker :{worker.port}") == "ready", result.stdout
    lags = {(row[0], int(row[1])): row[2:] for row in rows if len(row) == 6 and row[1].isdigit()}
    interactions = {p: lags[(t, p)] for t, p in lags if t == scope.topic("interactions")}
    assert sorted(interactions) == [0, 1, 2, 3], result.stdout  # one row per partition
    assert sum(int(end) for end, *_ in interactions.values()) == 200
    for end, committed, messages, seconds in interactions.values():
        assert committed == end
        assert messages == "0"
        assert seconds == "0.0"
    assert sorted(p for t, p in lags if t == scope.topic("events")) == [0, 1, 2, 3]
