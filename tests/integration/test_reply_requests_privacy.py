"""Personal data on the drafting path of a real worker: ``reply-requests`` carries only
placeholders, drafts never carry financial or national identifiers, erasure removes
what the placeholders stood for, and a replay of the erased customer's older messages
brings nothing back.

Inbound messages carry a card number, an IBAN, a US SSN, an e-mail address and a phone
number. The LLM (the fault-injecting server) answers with every placeholder it was
given, and once in the customer's own voice. The test then searches the published
topics and the LLM's request bodies for the raw values.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson
import redis

from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import message, wire, worker_env
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

__all__ = ["fault"]
CARD, IBAN, SSN = "4111 1111 1111 1111", "DE89370400440532013000", "123-45-6789"
MAIL, PHONE = "ann.lee@example.com", "+1 415 555 0134"
RAW = (CARD, IBAN, SSN, MAIL, PHONE, "4111111111111111", "5550134", "DE89")
TEXTS = [
    f"My card {CARD} was charged twice, please refund it to IBAN {IBAN}",
    f"Write to {MAIL} or call {PHONE}, my SSN is {SSN} if you need it",
    f"Please call me back on {PHONE}, my IBAN is {IBAN} for the refund",
]
ANSWER = (
    "Thanks, we will write to [EMAIL_1] and call [PHONE_1] about the refund to "
    "[IBAN_1] and card [CARD_1], no need for [NATIONAL_ID_1]."
)


def raw_in(text: str) -> list[str]:
    digits = re.sub(r"\D", "", text)
    return [v for v in RAW if v in text or (v.isdigit() and v in digits)]


async def test_reply_requests_carry_placeholders_and_drafts_no_identifiers(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    echo = TEXTS[2].replace(PHONE, "[PHONE_1]").replace(IBAN, "[IBAN_1]")
    fault.reset("ok", reply=ANSWER, replies={"pm-2": f"I'm sorry about the error. {echo}"})
    worker = start_worker(**worker_env(fault, RAPPORT_DRAFTING_RESTORE_CONTACTS="true"))
    events = [message(f"pm-{i}", "cust-p", f"conv-{i}", t, at=i) for i, t in enumerate(TEXTS)]
    await produce(scope.topic("interactions"), wire(events))

    requests = await collect(scope.topic("reply_requests"), 3, timeout=90, settle=2)
    drafts = await collect(scope.topic("drafted_replies"), 3, timeout=120, settle=2)
    assert len(requests) == 3 and len(drafts) == 3, worker.log_tail(30)
    for record in requests:
        body = record.json()
        assert raw_in(orjson.dumps(body).decode()) == [], body
        assert "[" in str(body["text"]) and "_1]" in str(body["text"])
    by_request = {str(r.json()["request_id"]): r.json() for r in drafts}
    for draft in by_request.values():
        assert raw_in(str(draft["text"])) in ([], [MAIL, PHONE, "5550134"]), draft
    # contacts allowed by the setting: the customer's own e-mail and phone come back; the
    # card, IBAN and SSN never do
    first = by_request["pm-1"]
    assert MAIL in str(first["text"]) and PHONE in str(first["text"]), first
    assert "your bank account" in str(by_request["pm-0"]["text"])
    assert "your ID number" in str(first["text"])
    # the draft in the customer's voice is replaced by a template
    voice = by_request["pm-2"]
    assert voice["fallback"] and "customer_echo" in str(voice["flags"]), voice
    # nothing raw reached the LLM either
    bodies = b"\n".join(c.body for c in fault.calls).decode()
    assert raw_in(bodies) == []

    # erasure: what the placeholders stood for is gone from Redis
    settings = scope.settings()
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    keys = [f"{settings.redis_key_prefix}drafts:pii:pm-{i}" for i in range(3)]
    assert all(client.exists(k) for k in keys)
    erase: dict[str, Any] = {
        **message("pm-x", "cust-p", "conv-x", "x", at=9),
        "type": "erasure",
    }
    for field in ("channel", "direction", "conversation_id", "text"):
        erase.pop(field)
    await produce(scope.topic("interactions"), wire([erase]))
    for _ in range(60):
        if not any(client.exists(k) for k in keys):
            break
        await asyncio.sleep(0.5)
    assert not any(client.exists(k) for k in keys), worker.log_tail(30)

    # a replay of the erased customer's older messages refills nothing; a newer one counts
    older = message("pm-3", "cust-p", "conv-0", TEXTS[0], at=5)
    newer = message("pm-4", "cust-p", "conv-4", TEXTS[0], at=60)
    await produce(scope.topic("interactions"), wire([older, newer]))
    after = await collect(scope.topic("reply_requests"), 4, timeout=90, settle=5)
    assert sorted(str(r.json()["request_id"]) for r in after) == ["pm-0", "pm-1", "pm-2", "pm-4"]
