"""``rapport rewind``: a stopped group re-runs from a point in time and the stores stay exact.

Refused while a worker of the group runs; a dry run changes nothing; the rewind sets
each partition to its first record at or after the time; the restarted worker reads
those records again, and ClickHouse holds the same interactions and the same insights of
every model as before (none added for the re-read events).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.rewind import active_members
from tests.integration.conftest import Scope
from tests.integration.test_sink import FAST_REJOIN, QUIET, sql
from tests.support.events_factory import batch
from tests.support.kafka_io import (
    BOOTSTRAP,
    collect,
    current_ends,
    end_offsets,
    produce,
    wait_committed,
)
from tests.support.workers import WorkerProcess, metric

FIRST, SECOND = 300, 200


def rewind(scope: Scope, *args: str) -> subprocess.CompletedProcess[str]:
    """``rapport rewind`` as an operator runs it."""
    argv = [sys.executable, "-m", "streams.cli", "rewind", *args]
    env = {**os.environ, **scope.env()}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


async def committed(group: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=tps)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items()}


EVENT_INSIGHTS = "WHERE NOT startsWith(model, 'metrics_')"
"""Every insight about an event: per message (sentiment, intent) and per customer under
the publish rule (churn, segment, anomaly: a re-read event acknowledged before the
checkpoint publishes none again), reco. Not the metrics insights of the scoring timer."""


def stored(worker: WorkerProcess) -> dict[str, int]:
    """What an analyst counts: the rows of each table, merged by id (FINAL), and the
    insights per model."""
    tables = {"interactions": "", "insights": EVENT_INSIGHTS}
    per_model = sql(
        worker,
        f"SELECT model, count() AS n FROM insights FINAL {EVENT_INSIGHTS} GROUP BY model",
    )
    return {
        **{
            table: int(sql(worker, f"SELECT count() AS n FROM {table} FINAL {where}")[0]["n"])
            for table, where in tables.items()
        },
        **{f"insights:{row['model']}": int(row["n"]) for row in per_model},
    }


def read_by_ingest(worker: WorkerProcess) -> float:
    samples = metric(worker.port, "rapport_events_in_total")
    return sum(v for labels, v in samples if labels.get("agent") == "ingest")


async def test_a_rewound_group_reruns_from_the_time_and_its_rows_stay_exact(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    group = scope.env()["RAPPORT_APP_ID"]
    interactions = scope.topic("interactions")
    worker = start_worker(**FAST_REJOIN, **QUIET)
    await produce(interactions, batch(scope.name, 0, FIRST))
    first_ends = await end_offsets(interactions, FIRST)
    await asyncio.sleep(1.5)  # record timestamps: the second batch is strictly later
    rerun_from = datetime.now(UTC)
    await asyncio.sleep(1.5)
    await produce(interactions, batch(scope.name, FIRST, FIRST + SECOND))
    ends = await end_offsets(interactions, FIRST + SECOND)
    await collect(scope.topic("events"), FIRST + SECOND, timeout=120, settle=2)
    await wait_committed(group, ends, timeout=60)
    for role in ("events", "insights"):
        await wait_committed(group, await current_ends(scope.topic(role)), timeout=60)
    before = await asyncio.to_thread(stored, worker)
    assert before["interactions"] == FIRST + SECOND

    # refused while the group has a member: it would overwrite the offsets at its next commit
    busy = rewind(scope, "--to", rerun_from.isoformat())
    assert busy.returncode == 2 and "active member" in busy.stderr, busy.stderr
    worker.stop()
    settings = scope.settings()
    for _ in range(120):  # a stopped worker leaves the group (within its session timeout)
        if not await active_members(settings, group):
            break
        await asyncio.sleep(0.5)

    tps = sorted(ends)
    dry = rewind(scope, "--to", rerun_from.isoformat(), "--topic", interactions, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would rewind group {group}" in dry.stdout
    assert await committed(group, tps) == ends  # nothing changed

    done = rewind(scope, "--to", rerun_from.isoformat())
    assert done.returncode == 0, done.stderr
    # every partition at its first record of the second batch (the first batch's end)
    assert await committed(group, tps) == first_ends

    worker.start()
    await wait_committed(group, ends, timeout=90)
    assert read_by_ingest(worker) == SECOND  # from the time on: the second batch, read again
    assert await asyncio.to_thread(stored, worker) == before
