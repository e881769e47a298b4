"""A reply a reviewer edited and sent teaches the customer's later drafts: it appears in
the prompt of their next draft, never in another customer's, is not kept when it holds
an identifier, and goes with the customer's erasure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from agents.drafting.store import DraftStore
from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import event, message, wire, worker_env
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

__all__ = ["fault"]
EDITED = "So sorry for the wait! Your parcel left our depot this morning and arrives tomorrow."
WITH_MAIL = "Write to refunds.team@example.org and we will sort it out."


def verdict(eid: str, customer: str, draft: str, text: str) -> dict[str, object]:
    return event(
        "draft_feedback", eid, customer, 5, draft_id=draft, verdict="edited", final_text=text
    )


async def until_shots(store: DraftStore, customer: str, n: int) -> list[tuple[str, str]]:
    deadline = time.monotonic() + 30
    while len(found := await store.shots(customer)) < n:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.3)
    return found


async def test_edited_reply_teaches_the_customers_next_drafts(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.1)
    start_worker(**worker_env(fault))
    settings = scope.settings()
    store = DraftStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix, 600)
    first = [
        message("e1", "c-e", "conv-e", "my parcel has not arrived yet", at=1),
        message("x1", "c-x", "conv-x", "I was charged twice this month", at=1),
    ]
    await produce(scope.topic("interactions"), wire(first))
    await collect(scope.topic("drafted_replies"), 2, timeout=60)
    edits = [
        verdict("fb-e1", "c-e", "draft-e1", EDITED),
        verdict("fb-x1", "c-x", "draft-x1", WITH_MAIL),  # an identifier: not kept
    ]
    await produce(scope.topic("interactions"), wire(edits))
    shots = await until_shots(store, "c-e", 1)
    assert shots == [("my parcel has not arrived yet", EDITED)]
    await asyncio.sleep(2)  # the second edit has been handled by now
    assert await store.shots("c-x") == []

    later = [
        message("e2", "c-e", "conv-e", "and can you tell me when the courier comes?", at=20),
        message("x2", "c-x", "conv-x", "still waiting for that refund", at=20),
        message("o1", "c-o", "conv-o", "my parcel has not arrived either", at=20),
    ]
    await produce(scope.topic("interactions"), wire(later))
    await collect(scope.topic("drafted_replies"), 5, timeout=60)
    prompts = {}
    for rid in ("e2", "x2", "o1"):
        cached = await store.cached(rid)
        assert cached is not None, rid
        prompts[rid] = cached.prompt
    assert EDITED in prompts["e2"]  # the customer's own next draft
    assert EDITED not in prompts["o1"] and EDITED not in prompts["x2"]
    assert "refunds.team" not in prompts["x2"]

    erase = {
        "type": "erasure",
        "event_id": "erase-e",
        "customer_id": "c-e",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "test",
    }
    await produce(scope.topic("interactions"), [(b"c-e", orjson.dumps(erase))])
    deadline = time.monotonic() + 30
    while await store.shots("c-e"):
        assert time.monotonic() < deadline, "the edited replies outlived the erasure"
        await asyncio.sleep(0.3)
    await store.close()
