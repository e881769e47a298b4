"""Failure records of the drafting agent in a real worker (Kafka, Redis, fault LLM): a
malformed reply request and a request of an erased customer each end in exactly one
dead letter with its reason code and no draft; an erasure purges the customer's cached
drafts and prompts from Redis."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import orjson

from agents.drafting.store import DraftStore
from schemas.published import DeadLetter, ReplyRequest
from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import NOW, event, message, wire, worker_env
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

__all__ = ["fault"]


def request(rid: str, customer: str, at: int) -> bytes:
    return (
        ReplyRequest(
            request_id=rid,
            customer_id=customer,
            conversation_id=f"conv-{customer}",
            message_event_id=rid,
            text="where is my parcel?",
            channel="chat",
            intent="track_order",
            occurred_at=NOW + timedelta(seconds=at),
        )
        .model_dump_json()
        .encode()
    )


async def test_failure_records_and_erasure_of_cached_drafts(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.1)
    start_worker(**worker_env(fault))
    settings = scope.settings()
    store = DraftStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix, 60)
    redis = store.client

    # a cached draft and prompt for the customer about to be erased, one for a bystander
    await produce(
        scope.topic("interactions"),
        wire(
            [
                message("e1", "gone", "conv-gone", "where is my parcel 1234?", at=1),
                message("k1", "kept", "conv-kept", "where is my parcel 5678?", at=1),
            ]
        ),
    )
    drafts = await collect(scope.topic("drafted_replies"), 2, timeout=60)
    assert sorted(str(r.json()["request_id"]) for r in drafts) == ["e1", "k1"]
    purged = [
        store.key("result", "e1"),  # the draft with its redacted prompt
        store.key("cust", "gone"),
    ]
    assert await redis.exists(*purged) == 2
    assert await redis.hexists(store.key("conv", "conv-gone"), "draft-e1")

    await produce(scope.topic("interactions"), wire([event("erasure", "x1", "gone", 5)]))
    await until_async(lambda: redis.exists(store.key("erased", "gone")), 30, "the erasure")
    assert await redis.exists(*purged) == 0
    assert not await redis.hexists(store.key("conv", "conv-gone"), "draft-e1")
    assert await redis.exists(store.key("result", "k1")) == 1, "other customers keep theirs"
    assert await store.erased_at("gone") == (NOW + timedelta(seconds=5)).timestamp()

    # straight onto reply-requests: two malformed, one of the erased customer (older than
    # the erasure), one valid
    malformed = [b"not json", orjson.dumps({"request_id": "m-1", "customer_id": "c"})]
    records = [
        (b"bad", malformed[0]),
        (b"c", malformed[1]),
        (b"gone", request("r-gone", "gone", 3)),
        (b"ok", request("r-ok", "ok", 6)),
    ]
    await produce(scope.topic("reply_requests"), records)
    letters = [
        DeadLetter.model_validate_json(r.value or b"")
        for r in await collect(scope.topic("dlq"), 3, timeout=60, settle=3)
    ]
    drafting = [d for d in letters if d.topic == scope.topic("reply_requests")]
    assert Counter(d.reason_code for d in drafting) == Counter(
        {"invalid_reply_request": 2, "customer_erased": 1}
    ), [(d.reason_code, d.reason) for d in letters]
    by_key = {d.key: d for d in drafting}
    assert by_key["bad"].original_bytes() == malformed[0]  # kept to inspect and replay
    assert by_key["c"].original_bytes() == malformed[1] and "conversation_id" in by_key["c"].reason
    assert by_key["gone"].original_bytes() == b"", "no payload of an erased customer"

    after = await collect(scope.topic("drafted_replies"), 3, timeout=60, settle=3)
    assert sorted(str(r.json()["request_id"]) for r in after) == ["e1", "k1", "r-ok"]
    assert await redis.exists(store.key("result", "r-gone")) == 0
    await store.close()


async def until_async(check: Callable[[], Awaitable[object]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)
