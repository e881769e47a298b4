"""Erasure holds against a replay of everything the customer ever sent, today and after
the engine has forgotten the replayed ids (as eight days later: the dedup horizon is 7
days; here the dedup index is kept small and filled with other customers' events).

A customer sends messages (drafted by the fault-injecting LLM), a page view and an order;
an erasure follows. The same records are then produced again, twice: at once (dropped as
duplicates) and once the dedup index has forgotten them (forwarded again). After each,
nothing is back: no reply request, draft or insight for the customer on the topics, no
features (table or Redis), no conversation, no ClickHouse row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis

from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import event, message, until, wire, worker_env
from tests.integration.test_sink import sql
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import Record, collect, current_ends, produce, wait_committed
from tests.support.workers import WorkerProcess, metric

__all__ = ["fault"]
WHO = "cust-erased"
TABLES = ("interactions", "insights", "drafts", "feature_snapshots")


def history() -> list[dict[str, Any]]:
    texts = ("My order never arrived", "Still waiting for my parcel", "Please refund me")
    out = [message(f"er-m{i}", WHO, f"conv-er{i}", t, at=i * 10) for i, t in enumerate(texts)]
    out.append(event("page_view", "er-pv", WHO, 40, url="/orders", session_id="s1"))
    out.append(event("order", "er-o", WHO, 50, order_id="o-1", amount=42.0, currency="EUR"))
    return out


def erasure(at: int) -> dict[str, Any]:
    return event("erasure", "er-erase", WHO, at, reason="customer request")


async def mine(scope: Scope, role: str) -> list[Record]:
    records = await collect(scope.topic(role), 10**9, timeout=4)
    return [r for r in records if r.value and r.json().get("customer_id") == WHO]


async def drained(scope: Scope) -> None:
    group = scope.env()["RAPPORT_APP_ID"]
    for role in ("interactions", "events", "insights", "reply_requests"):
        await wait_committed(group, await current_ends(scope.topic(role)), timeout=120)


def duplicates(port: int) -> float:
    return sum(v for _, v in metric(port, "rapport_duplicates_dropped_total"))


async def test_erased_customer_stays_erased_after_replays(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", reply="Thanks for writing, we are on it.")
    worker = start_worker(
        **worker_env(fault, RAPPORT_DEDUP_MAX_IDS="1000", RAPPORT_DEDUP_SEAL_IDS="16")
    )
    records = history()
    await produce(scope.topic("interactions"), wire(records))
    drafts = await collect(scope.topic("drafted_replies"), 3, timeout=120, settle=1)
    assert len([d for d in drafts if d.json().get("customer_id") == WHO]) == 3, drafts
    await until(lambda: worker.get(f"/customers/{WHO}/features")[0] == 200, 60, "features")

    await produce(scope.topic("interactions"), wire([erasure(60)]))
    await until(lambda: worker.get(f"/customers/{WHO}/features")[0] == 404, 60, "erased")
    await drained(scope)
    before = {role: len(await mine(scope, role)) for role in ("reply_requests", "insights")}
    before["drafted_replies"] = 3
    settings = scope.settings()
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())

    async def nothing_back(phase: str) -> None:
        await drained(scope)
        await asyncio.sleep(3)  # a draft or a feature flush would land within this
        for role in ("reply_requests", "insights", "drafted_replies"):
            assert len(await mine(scope, role)) == before[role], (phase, role)
        assert worker.get(f"/customers/{WHO}/features")[0] == 404, phase
        # (only the drafting erasure marker, kept for good: it is what refuses the replay)
        kept = [k for k in client.keys(f"{settings.redis_key_prefix}*{WHO}*") if b"erased" not in k]
        assert kept == [], (phase, kept)
        for i in range(3):
            status, body = worker.get(f"/conversations/conv-er{i}/drafts")
            assert status == 404 or not body.get("drafts"), (phase, body)
        for table in TABLES:
            rows = sql(worker, f"SELECT count() AS n FROM {table} WHERE customer_id = '{WHO}'")
            assert int(rows[0]["n"]) == 0, (phase, table)

    # 1. today: the same records again are duplicates, dropped at ingest
    dropped = duplicates(worker.port)
    await produce(scope.topic("interactions"), wire(records))
    await until(lambda: duplicates(worker.port) >= dropped + len(records), 60, "duplicates")
    await nothing_back("within the dedup horizon")

    # 2. later: the index has forgotten them (other customers' events pushed them out),
    # so they are forwarded to `events` again, and still nothing comes back
    events_before = len(await mine(scope, "events"))
    fillers = [
        event("page_view", f"er-f{i}", f"filler-{i % 97}", i % 50, url="/home") for i in range(6000)
    ]
    await produce(scope.topic("interactions"), wire(fillers))
    await drained(scope)
    await produce(scope.topic("interactions"), wire(records))
    await drained(scope)
    assert len(await mine(scope, "events")) == events_before + len(records), "forgotten"
    await nothing_back("after the dedup horizon")
