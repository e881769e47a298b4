"""Scale-out with the embedded store: three processing workers and one ``rapport sink``.

chDB is ClickHouse inside one process, so N workers that each embed it keep N partial
databases. The shape that scales: workers run with ``RAPPORT_AGENTS=processing`` and one
``rapport sink`` (its own consumer group) is the store's single writer and ``/sql``
reader. A worker that would embed a second store is refused at start, and ``rapport sql``
finds the sink by itself. A replay through three workers, one SIGKILLed mid-way and
started again, lands in the sink's store exactly once: every interaction, every insight
and every feature snapshot the workers published.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

import orjson

from streams.core.sink_lease import SINK_SUFFIX
from tests.integration.conftest import Scope
from tests.support.features_worker import WORKER_ENV, processed, replay, send, wire
from tests.support.kafka_io import collect, current_ends, wait_committed
from tests.support.workers import WorkerProcess

N = 3_000
ENV = {
    **WORKER_ENV,
    "RAPPORT_DRAFTING_ENABLED": "false",
    "RAPPORT_CLICKHOUSE_FLUSH_INTERVAL_S": "0.3",
}


def rapport_sql(scope: Scope, query: str) -> list[dict[str, object]]:
    """``rapport sql --format json`` as a user runs it: no URL given, the sink is found."""
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "sql", query, "--format", "json"],
        env={**os.environ, **scope.env(RAPPORT_WEB_PORT="9")},  # nothing listens on :9
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def settled(scope: Scope, group: str, roles: tuple[str, ...], timeout: float) -> None:
    for role in roles:
        await wait_committed(group, await current_ends(scope.topic(role)), timeout=timeout)


async def test_three_workers_and_one_sink_store_everything_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    sink = start_worker(command="sink", **ENV)

    # a worker that would embed a second store beside the sink is refused, with the fix
    embedded = start_worker(
        wait_ready=0, **ENV, RAPPORT_CLICKHOUSE_DSN=f"chdb://{scope.data_dir / 'chdb-2'}"
    )
    assert embedded.proc is not None
    assert await asyncio.to_thread(embedded.proc.wait, 60) == 2
    assert "RAPPORT_AGENTS=processing" in embedded.log_tail(5)
    assert "rapport sink" in embedded.log_tail(5)

    workers = [start_worker(wait_ready=0, **ENV, RAPPORT_AGENTS="processing") for _ in range(3)]
    for worker in workers:
        worker.wait_ready(120)
    pairs = wire(replay(N, seed=53), id_prefix=f"{scope.name}-")
    half = len(pairs) // 2
    await send(scope, pairs[:half])
    for _ in range(1200):  # mid-replay: a third of the first half processed
        if sum(processed(w.port) for w in workers) >= half // 3:
            break
        await asyncio.sleep(0.05)
    victim = workers[0]
    victim.kill()
    await send(scope, pairs[half:])
    workers[0] = start_worker(wait_ready=0, **ENV, RAPPORT_AGENTS="processing")
    workers[0].wait_ready(120)

    app_id = scope.env()["RAPPORT_APP_ID"]
    await settled(scope, app_id, ("interactions", "events", "insights"), timeout=240)
    await asyncio.sleep(3)  # the last feature snapshots (published on a 0.25 s timer)
    sink_topics = ("events", "insights", "features", "dlq")
    await settled(scope, app_id + SINK_SUFFIX, sink_topics, timeout=120)

    # what the workers published, read back from the topics
    insight_ids = {
        orjson.loads(r.value)["insight_id"]
        for r in await collect(scope.topic("insights"), 10**9, timeout=5)
        if r.value
    }
    snapshots = {
        (s["customer_id"], s["as_of"])
        for r in await collect(scope.topic("features"), 10**9, timeout=5)
        if r.value and (s := orjson.loads(r.value))
    }
    assert insight_ids and snapshots

    (got,) = rapport_sql(
        scope,
        "SELECT (SELECT count() FROM interactions) AS interactions, "
        "(SELECT uniqExact(event_id) FROM interactions) AS event_ids, "
        "(SELECT count() FROM insights) AS insights, "
        "(SELECT uniqExact(insight_id) FROM insights) AS insight_ids, "
        "(SELECT count() FROM feature_snapshots) AS snapshots, "
        "(SELECT count() FROM dead_letters) AS dead_letters",
    )
    assert {k: int(str(v)) for k, v in got.items()} == {
        "interactions": len(pairs),
        "event_ids": len(pairs),
        "insights": len(insight_ids),
        "insight_ids": len(insight_ids),
        "snapshots": len(snapshots),
        "dead_letters": 0,
    }, sink.log_tail(30)
    # the sink is the one process that wrote them: no worker embeds a store
    for worker in workers:
        assert post_sql_status(worker.port) == 404
    assert post_sql_status(sink.port) == 200


def post_sql_status(port: int) -> int:
    body = orjson.dumps({"query": "SELECT 1", "format": "json"})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/sql",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
