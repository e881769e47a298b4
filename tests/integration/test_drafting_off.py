"""A worker with drafting off (``RAPPORT_DRAFTING_ENABLED=false``) still emits reply requests,
and nothing stalls: every replayed event reaches ``events`` and ClickHouse, the group's lag
on every topic it reads reaches 0, and its log has no "Topic ... not found" error.

With drafting off nothing in the worker reads ``reply-requests``, so Faust did not declare
it; the first reply request went to a topic the producer had no metadata for (an ERROR,
then the broker's auto-creation with its own defaults), which also switched the producer's
client to tracking topics by name: batches already queued for ``events`` and changelogs
lost their leader and the commit waited for them (the worker stalled in about one run in
five; the user saw 4 of 107 events forwarded, then nothing).

Declaring every topic from a task at start is not enough: with a backlog waiting when the
worker starts, the reply-requests agent sends before that task reaches ``reply-requests``
(the same errors and the same narrowed metadata, in 4 runs of 4). The agent declares the
topic itself and waits until the producer's metadata holds it before its first send.

The topics the worker reads are created first, as ``rapport run`` does (a topic the worker
creates itself can miss its first assignment); ``reply-requests`` is left to the worker.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.cli.main_job_drain import drain
from streams.core.runtime import MAX_RECORD_BYTES
from streams.topics import consumed_roles, create_topics
from tests.integration.conftest import Scope
from tests.integration.test_sink import sql
from tests.support.events_factory import ids_of
from tests.support.kafka_io import BOOTSTRAP, collect
from tests.support.workers import WorkerProcess, metric

OFF = {"RAPPORT_DRAFTING_ENABLED": "false"}
SOURCES = "bitext,banking77,telco,synthetic"
PER_SOURCE = 25


def replay(scope: Scope, prefix: str) -> str:
    """``rapport replay`` as a user runs it; its summary line."""
    argv = [sys.executable, "-m", "streams.cli", "replay", "--source", SOURCES, "--quiet"]
    argv += ["--limit", str(PER_SOURCE), "--id-prefix", prefix]
    done = subprocess.run(
        argv,
        env={**os.environ, **scope.env(**OFF)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def topic_layout(name: str) -> tuple[int, str | None]:
    """Partitions and ``max.message.bytes`` of a topic, as the broker has it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        [described] = await admin.describe_topics([name])
        [configs] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for entry in configs.resources[0][4]}
    return len(described["partitions"]), entries.get("max.message.bytes")


async def wait_rows(worker: WorkerProcess, want: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(
            sql, worker, "SELECT uniqExact(event_id) AS n FROM interactions"
        )
        n = int(rows[0]["n"])
        if n >= want:
            return n
        await asyncio.sleep(1.0)
    return n


@pytest.mark.parametrize("backlog", [False, True], ids=["replayed-to-a-ready-worker", "backlog"])
async def test_drafting_off_emits_reply_requests_without_errors_or_stall(
    scope: Scope, start_worker: Callable[..., WorkerProcess], backlog: bool
) -> None:
    settings = scope.settings().model_copy(update={"drafting_enabled": False})
    roles = consumed_roles(settings)
    assert "reply_requests" not in roles
    await create_topics(settings, roles)
    if backlog:  # the events wait in interactions when the worker starts
        summary = replay(scope, f"{scope.name}-")
        worker = start_worker(**OFF)
    else:
        worker = start_worker(**OFF)
        summary = replay(scope, f"{scope.name}-")
    produced = PER_SOURCE * len(SOURCES.split(","))
    assert f"produced {produced} events" in summary, summary
    assert "message" in summary, summary  # inbound messages: reply requests to emit

    # every event reaches events, once, and ClickHouse
    events = await collect(scope.topic("events"), produced, timeout=120, settle=2)
    forwarded = Counter(ids_of([r.value for r in events]))
    assert len(forwarded) == produced, worker.log_tail()
    assert max(forwarded.values()) == 1
    assert await wait_rows(worker, produced, 120) == produced, worker.log_tail()

    # the group processed everything it reads: lag 0 on every topic
    topics = [settings.topic_name(role) for role in roles]
    result = await drain(
        settings, topics, timeout_s=120, on_poll=lambda _: None, alive=worker.alive
    )
    assert result.drained, (result.last.lag_by_topic(), worker.log_tail())
    interactions = settings.topic_name("interactions")
    committed = [c for (topic, _), (c, _) in result.last.offsets.items() if topic == interactions]
    assert sum(committed) == produced

    # reply requests were emitted to the topic as declared, not as auto-created
    requests = settings.topic_name("reply_requests")
    emitted = sum(
        value
        for labels, value in metric(worker.port, "rapport_events_out_total")
        if labels["agent"] == "reply-requests"
    )
    assert emitted >= 1
    assert len(await collect(requests, int(emitted), timeout=30)) == emitted
    assert await topic_layout(requests) == (settings.topic_partitions, str(MAX_RECORD_BYTES))

    code = worker.stop(timeout=45)
    assert code is not None and code >= 0, worker.log_tail()  # stopped, not killed
    log = worker.log_path.read_text(errors="replace")
    assert "not found" not in log, [line for line in log.splitlines() if "not found" in line]
    assert "gave up waiting" not in log
