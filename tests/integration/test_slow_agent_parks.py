"""A slow agent never holds up the others: with a backlog of 200 reply requests, the LLM
answering in 0.25 s and room for 64 queued records per agent, a worker processes every
event produced with the backlog (ClickHouse rows, insights, lag 0 on every topic but
``reply-requests`` and ``drafted-replies``) while most requests still wait; then every
request is drafted exactly once (the parked records went in order, none skipped or
drafted twice).

Before holds, the consumer's single dispatch loop waited on the drafting agent's full
queue, so every topic advanced at the LLM's pace: the main job's sink and engagement
crawled at ~2 records/s for 10 minutes behind 3,470 reply requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from schemas.published import ReplyRequest
from streams.lag import group_lag
from streams.topics import consumed_roles, create_topics
from tests.integration.conftest import Scope
from tests.integration.test_drafting_off import wait_rows
from tests.integration.test_drafting_worker import NOW, by_request, event, message, wire
from tests.integration.test_drafting_worker import worker_env as drafting_env
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess, metric

__all__ = ["fault"]
REQUESTS = 200
VIEWS = 200


async def lag_by_topic(scope: Scope) -> dict[str, int]:
    settings = scope.settings()
    topics = [settings.topic_name(role) for role in consumed_roles(settings)]
    out = dict.fromkeys(topics, 0)
    for lag in await group_lag(settings, settings.app_id, topics, ages=False):
        out[lag.topic] += lag.messages
    return out


def backlog() -> list[tuple[bytes | None, bytes | None]]:
    """Reply requests waiting on their topic, as the reply-request agent writes them."""
    out: list[tuple[bytes | None, bytes | None]] = []
    for i in range(REQUESTS):
        customer = f"h-cust-{i % 20}"
        request = ReplyRequest(
            request_id=f"h{i}",
            customer_id=customer,
            conversation_id=f"h-conv-{i}",
            message_event_id=f"h{i}",
            text=f"where is my parcel number {i}?",
            channel="chat",
            intent="track_order",
            occurred_at=NOW,
            reason="inbound_needs_reply",
        )
        out.append((customer.encode(), request.model_dump_json().encode()))
    return out


def workload() -> list[dict[str, Any]]:
    """Events that need no reply (page views, outbound messages)."""
    views = [
        event("page_view", f"v{i}", f"h-cust-{i % 20}", i % 50, url=f"/p/{i % 7}")
        for i in range(VIEWS)
    ]
    said = [
        message(
            f"o{i}", f"h-cust-{i % 20}", f"h-conv-{i}", "Your parcel left today.", inbound=False
        )
        for i in range(VIEWS // 4)
    ]
    return views + said


async def test_a_slow_llm_parks_only_reply_requests(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.25)
    settings = scope.settings()
    await create_topics(settings, consumed_roles(settings))
    env = drafting_env(
        fault,
        RAPPORT_DRAFTING_CONCURRENCY="1",
        RAPPORT_STREAM_BUFFER_RECORDS="64",
        RAPPORT_LLM_TIMEOUT_S="10",
        RAPPORT_DRAFTING_DEADLINE_S="20",
    )
    await produce(scope.topic("reply_requests"), backlog())
    events = workload()
    await produce(scope.topic("interactions"), wire(events))
    worker = start_worker(**env)

    # everything but drafting is done while most reply requests still wait for the LLM
    started = time.monotonic()
    assert await wait_rows(worker, len(events), timeout=60) == len(events)
    print(f"rows in ClickHouse {time.monotonic() - started:.1f}s after producing")
    requests_topic = settings.topic_name("reply_requests")
    drafted_topic = settings.topic_name("drafted_replies")  # written at the LLM's pace
    deadline = time.monotonic() + 30
    while True:
        lags = await lag_by_topic(scope)
        others = {t: n for t, n in lags.items() if t not in (requests_topic, drafted_topic)}
        if not any(others.values()):
            break
        assert time.monotonic() < deadline, f"not drained beside drafting: {lags}"
        await asyncio.sleep(0.5)
    drafted_by_then = sum(c.request_id.startswith("h") for c in fault.calls)
    print(
        f"drained beside drafting {time.monotonic() - started:.1f}s after producing, "
        f"{drafted_by_then} of {REQUESTS} drafted"
    )
    # one queue of 64 holds at most 64 + the one being drafted: without parking the
    # dispatch waited on it, and nothing else moved until the backlog was nearly drafted
    assert drafted_by_then < REQUESTS // 2, (drafted_by_then, lags)
    assert lags[requests_topic] >= REQUESTS // 2
    assert lags[requests_topic] > 0
    parks = metric(worker.port, "rapport_dispatch_parks_total")
    assert parks and parks[0][1] >= 1, parks  # reply requests were parked

    # then every request is drafted exactly once: the parked records went, in order
    records = await collect(scope.topic("drafted_replies"), REQUESTS, timeout=120, settle=2)
    drafts = {rid: d for rid, d in by_request(records).items() if rid.startswith("h")}
    assert set(drafts) == {f"h{i}" for i in range(REQUESTS)}
    assert all(len(copies) == 1 for copies in drafts.values())
    calls = sorted(c.request_id for c in fault.calls if c.request_id.startswith("h"))
    assert calls == sorted(drafts)  # one LLM call each: none drafted twice
