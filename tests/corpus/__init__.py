"""Shared test inputs: one valid sample per event type and a generator of valid records.

The malformed-input corpus lives in ``tests.corpus.bad_inputs``.

>>> [key for key, _ in valid_events(3, seed=1)] == [b"c-0007", b"c-0014", b"c-0001"]
True
>>> from schemas.events import EVENT_TYPES
>>> sorted(BODIES) == sorted(type_tag(model) for model in EVENT_TYPES)
True
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import orjson

from schemas.events import Envelope
from schemas.validate import Limits
from streams.core.settings import Settings

__all__ = ["BODIES", "DEFAULT_LIMITS", "sample_event", "type_tag", "valid_events"]

_DEFAULTS = Settings.model_construct()
DEFAULT_LIMITS = Limits(_DEFAULTS.max_event_bytes, _DEFAULTS.max_future_skew_s)
"""The limits ``check`` gets from default settings (what the ingest agent uses)."""

# One valid body per event type (the ``type`` tag), every optional field set.
BODIES: dict[str, dict[str, Any]] = orjson.loads("""{
  "message": {"channel": "chat", "direction": "inbound", "conversation_id": "conv-1",
              "text": "Hi, my order has not arrived yet.", "agent_id": "agent-7"},
  "ticket": {"ticket_id": "t-1", "action": "opened", "priority": "high",
             "tags": ["shipping", "late"]},
  "page_view": {"url": "https://shop.example/p/42?ref=mail", "session_id": "s-1",
                "product_id": "p-42"},
  "cart": {"cart_id": "cart-1", "action": "add", "product_id": "p-42", "quantity": 2,
           "unit_price": 19.99},
  "order": {"order_id": "o-1", "amount": 39.98, "currency": "EUR",
            "items": [{"product_id": "p-42", "quantity": 2, "unit_price": 19.99}]},
  "rating": {"score": 4, "comment": "Quick and friendly.", "conversation_id": "conv-1"},
  "subscription": {"action": "started", "plan": "pro", "monthly_charges": 29.5,
                   "tenure_months": 3, "attributes": {"contract": "month-to-month"}},
  "label": {"message_event_id": "e-msg-1", "kind": "intent", "value": "delivery_status",
            "agent_id": "agent-7"},
  "draft_feedback": {"draft_id": "d-1", "verdict": "edited",
                     "final_text": "Your parcel ships today.", "agent_id": "agent-7",
                     "intent": "track_order"},
  "erasure": {"reason": "customer request"}
}""")


def type_tag(model: type[Envelope]) -> str:
    """The ``type`` discriminator value of an event model."""
    (tag,) = get_args(model.model_fields["type"].annotation)
    return str(tag)


def sample_event(
    kind: str, *, event_id: str, customer_id: str, occurred_at: datetime
) -> dict[str, Any]:
    """A valid event of type ``kind`` as a dict (``occurred_at`` stays a datetime)."""
    envelope = {
        "type": kind,
        "event_id": event_id,
        "customer_id": customer_id,
        "occurred_at": occurred_at,
        "source": "web",
        "schema_version": "1.0",
    }
    return envelope | copy.deepcopy(BODIES[kind])


def valid_events(n: int, seed: int, *, include_erasure: bool = False) -> list[tuple[bytes, bytes]]:
    """``n`` valid ``(key, value)`` records of mixed types, key == customer_id.

    Event ids are unique within the list and deterministic per seed; timestamps lie in
    the last hour. Erasures are left out unless asked for: one makes the pipeline drop
    that customer's older events, which a caller counting events does not expect.
    """
    rng = random.Random(seed)
    now = datetime.now(UTC)
    kinds = [k for k in BODIES if include_erasure or k != "erasure"]
    out: list[tuple[bytes, bytes]] = []
    for i in range(n):
        if i % len(kinds) == 0:
            rng.shuffle(kinds)
        customer = f"c-{rng.randrange(1, 21):04d}"
        event = sample_event(
            kinds[i % len(kinds)],
            event_id=f"e-{seed}-{i:06d}-{rng.getrandbits(32):08x}",
            customer_id=customer,
            occurred_at=now - timedelta(seconds=rng.uniform(1, 3600)),
        )
        _vary(event, rng)
        out.append((customer.encode(), orjson.dumps(event)))
    return out


def _vary(event: dict[str, Any], rng: random.Random) -> None:
    if event["type"] == "rating":
        event["score"] = rng.randint(1, 5)
    elif event["type"] == "order":
        qty, price = rng.randint(1, 5), round(rng.uniform(1, 200), 2)
        event["items"] = [
            {"product_id": f"p-{rng.randrange(100)}", "quantity": qty, "unit_price": price}
        ]
        event["amount"] = round(qty * price, 2)
    elif event["type"] == "message":
        event["text"] = rng.choice(["Where is my parcel?", "I want a refund.", "Thanks!"])
