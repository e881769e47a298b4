"""Malformed inputs with the rejection each must get, and a generator of valid events.

Every ``BadInput`` names the ``reason_code`` ``schemas.validate.check`` must return
and a substring of the reason that says what is wrong (usually the field path).
Expectations hold for the default limits, ``DEFAULT_LIMITS``.

>>> len(BAD_INPUTS) >= 34, len({case.name for case in BAD_INPUTS}) == len(BAD_INPUTS)
(True, True)
>>> [key for key, _ in valid_events(3, seed=1)] == [b"c-0017", b"c-0004", b"c-0019"]
True
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.validate import Limits
from streams.settings import Settings

_DEFAULTS = Settings.model_construct()
DEFAULT_LIMITS = Limits(_DEFAULTS.max_event_bytes, _DEFAULTS.max_future_skew_s)
CUSTOMER = "c-0001"
KEY = CUSTOMER.encode()
_LITERAL = "@@literal@@"

# One valid body per event type (the ``type`` tag), every optional field set.
BODIES: dict[str, dict[str, Any]] = {
    "message": {"channel": "chat", "direction": "inbound", "conversation_id": "conv-1",
                "text": "Hi, my order has not arrived yet.", "agent_id": "agent-7"},
    "ticket": {"ticket_id": "t-1", "action": "opened", "priority": "high",
               "tags": ["shipping", "late"]},
    "page_view": {"url": "https://shop.example/p/42?ref=mail", "session_id": "s-1",
                  "product_id": "p-42"},
    "cart": {"cart_id": "cart-1", "action": "add", "product_id": "p-42", "quantity": 2,
             "unit_price": 19.99},
    "order": {"order_id": "o-1", "items": [{"product_id": "p-42", "quantity": 2,
                                            "unit_price": 19.99}],
              "amount": 39.98, "currency": "EUR"},
    "rating": {"score": 4, "comment": "Quick and friendly.", "conversation_id": "conv-1"},
    "subscription": {"action": "started", "plan": "pro", "monthly_charges": 29.5,
                     "tenure_months": 3, "attributes": {"contract": "month-to-month"}},
    "label": {"message_event_id": "e-msg-1", "kind": "intent", "value": "delivery_status",
              "agent_id": "agent-7"},
    "draft_feedback": {"draft_id": "d-1", "verdict": "edited",
                       "final_text": "Your parcel ships today.", "agent_id": "agent-7"},
    "erasure": {"reason": "customer request"},
}


@dataclass(frozen=True)
class BadInput:
    name: str
    key: bytes | None
    value: bytes | None
    reason_code: str
    reason_contains: str


def sample_event(
    kind: str, *, event_id: str, customer_id: str, occurred_at: datetime
) -> dict[str, Any]:
    """A valid event of type ``kind`` as a dict (``occurred_at`` stays a datetime)."""
    envelope = {"type": kind, "event_id": event_id, "customer_id": customer_id,
                "occurred_at": occurred_at, "source": "web", "schema_version": "1.0"}
    return envelope | copy.deepcopy(BODIES[kind])


def valid_events(
    n: int, seed: int, *, include_erasure: bool = False
) -> list[tuple[bytes, bytes]]:
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
            kinds[i % len(kinds)], event_id=f"e-{seed}-{i:06d}-{rng.getrandbits(32):08x}",
            customer_id=customer, occurred_at=now - timedelta(seconds=rng.uniform(1, 3600)),
        )
        _vary(event, rng)
        out.append((customer.encode(), orjson.dumps(event)))
    return out


def _vary(event: dict[str, Any], rng: random.Random) -> None:
    if event["type"] == "rating":
        event["score"] = rng.randint(1, 5)
    elif event["type"] == "order":
        qty, price = rng.randint(1, 5), round(rng.uniform(1, 200), 2)
        event["items"] = [{"product_id": f"p-{rng.randrange(100)}", "quantity": qty,
                           "unit_price": price}]
        event["amount"] = round(qty * price, 2)
    elif event["type"] == "message":
        event["text"] = rng.choice(["Where is my parcel?", "I want a refund.", "Thanks!"])


def _ev(kind: str = "rating", *, drop: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    event = sample_event(kind, event_id="e-bad-1", customer_id=CUSTOMER,
                         occurred_at=datetime.now(UTC) - timedelta(minutes=5))
    for name in drop:
        del event[name]
    return event | fields


def _json(kind: str = "rating", *, drop: tuple[str, ...] = (), **fields: Any) -> bytes:
    return orjson.dumps(_ev(kind, drop=drop, **fields))


def _literal(kind: str, field: str, literal: bytes) -> bytes:
    """An event whose ``field`` is a raw JSON token orjson would never write."""
    return _json(kind, **{field: _LITERAL}).replace(f'"{_LITERAL}"'.encode(), literal)


def _nested(depth: int, open_: bytes, close: bytes) -> bytes:
    return open_ * depth + close * depth


def bad_inputs() -> list[BadInput]:
    """The corpus; timestamps are relative to the time of the call."""
    now = datetime.now(UTC)
    good = _json()
    limit = DEFAULT_LIMITS.max_bytes
    cases: list[tuple[str, bytes | None, str, str]] = [
        # --- bytes, encoding, JSON shape
        ("not_json", b"this is not json", "not_json", "payload: Invalid JSON"),
        ("json_array", b'[{"type": "rating"}]', "not_an_object", "payload: Input should be an"),
        ("json_string", b'"rating"', "not_an_object", "Input should be an object (got 'rating')"),
        ("json_number", b"42", "not_an_object", "Input should be an object (got 42)"),
        ("json_null_literal", b"null", "not_an_object", "Input should be an object (got None)"),
        ("whitespace_only", b" \n\t ", "not_json", "EOF while parsing"),
        ("truncated_json", good[:-7], "not_json", "EOF while parsing"),
        ("trailing_garbage", good + b"xyz", "not_json", "trailing characters"),
        ("two_documents", good + b"\n" + good, "not_json", "trailing characters"),
        ("utf8_bom", b"\xef\xbb\xbf" + good, "not_json", "payload: Invalid JSON"),
        ("invalid_utf8", _json("message", text="caf@").replace(b"caf@", b"caf\xe9"),
         "invalid_utf8", "payload: invalid UTF-8 at byte"),
        ("lone_surrogate_escape", _literal("message", "text", b'"\\ud800"'), "not_json",
         "Invalid JSON"),
        ("tombstone", None, "empty_payload", "tombstone"),
        ("empty_value", b"", "empty_payload", "payload: empty"),
        ("payload_2mb", _json("message", text="x" * 2_000_000), "oversized",
         f"exceeds the {limit}-byte limit"),
        ("one_byte_over_limit", good + b" " * (limit + 1 - len(good)), "oversized",
         f"{limit + 1} bytes exceeds"),
        ("nested_arrays_1000", _literal("message", "extra", _nested(1000, b"[", b"]")),
         "too_deep", "payload: JSON nested 1001 levels deep"),
        ("nested_objects_100", _literal("message", "extra", _nested(100, b'{"a":', b"}")[:-1]
                                        + b"1" + b"}"), "too_deep", "levels deep"),
        # --- the envelope
        ("empty_object", b"{}", "missing_event_type", "type: Unable to extract tag"),
        ("missing_type", _json(drop=("type",)), "missing_event_type", "discriminator 'type'"),
        ("unknown_type", _json(type="refund"), "unknown_event_type", "type: Input tag 'refund'"),
        ("type_not_string", _json(type=5), "unknown_event_type", "type: Input tag '5'"),
        ("missing_event_id", _json(drop=("event_id",)), "missing_field",
         "rating.event_id: Field required"),
        ("missing_customer_id", _json(drop=("customer_id",)), "missing_field",
         "rating.customer_id: Field required"),
        ("missing_occurred_at", _json(drop=("occurred_at",)), "missing_field",
         "rating.occurred_at: Field required"),
        ("missing_source", _json(drop=("source",)), "missing_field", "rating.source: Field"),
        ("empty_event_id", _json(event_id=""), "bad_length", "rating.event_id: String should"),
        ("overlong_customer_id", _json(customer_id="c" * 129), "bad_length",
         "rating.customer_id: String should have at most 128 characters"),
        ("nul_in_event_id", _json(event_id="e\x001"), "bad_format",
         "rating.event_id: String should match pattern"),
        ("space_in_customer_id", _json(customer_id="c 1"), "bad_format", "rating.customer_id"),
        ("customer_id_number", _json(customer_id=1), "wrong_type",
         "rating.customer_id: Input should be a valid string"),
        ("event_id_null", _json(event_id=None), "wrong_type", "rating.event_id: Input should"),
        ("newline_in_source", _json(source="we\nb"), "bad_format", "rating.source: String"),
        ("naive_timestamp", _json(occurred_at=now.replace(tzinfo=None)), "naive_timestamp",
         "rating.occurred_at: Input should have timezone info"),
        ("timestamp_ten_years_ahead", _json(occurred_at=now + timedelta(days=3653)),
         "future_timestamp", "s in the future (limit 300s)"),
        ("timestamp_not_a_date", _json(occurred_at="yesterday"), "datetime_parsing",
         "rating.occurred_at: Input should be a valid datetime"),
        ("timestamp_epoch_number", _json(occurred_at=1_767_225_600), "wrong_type",
         "rating.occurred_at: Input should be a valid datetime"),
        ("timestamp_february_30", _json(occurred_at="2026-02-30T10:00:00Z"),
         "datetime_parsing", "day value is outside expected range"),
        ("timestamp_before_utc_year_1", _json(occurred_at="0001-01-01T00:00:00+01:00"),
         "out_of_range", "rating.occurred_at: 0001-01-01T00:00:00+01:00 is outside"),
        ("schema_version_2", _json(schema_version="2.0"), "bad_format",
         "rating.schema_version: String should match pattern"),
        ("schema_version_number", _literal("rating", "schema_version", b"1.0"), "wrong_type",
         "rating.schema_version: Input should be a valid string"),
        # --- types and ranges of the records
        ("negative_amount", _json("order", amount=-1.5), "out_of_range",
         "order.amount: Input should be greater than or equal to 0"),
        ("amount_too_large", _json("order", amount=2e12), "out_of_range",
         "order.amount: Input should be less than or equal to"),
        ("amount_as_string", _json("order", amount="12.5"), "wrong_type",
         "order.amount: Input should be a valid number (got '12.5')"),
        ("amount_nan", _literal("order", "amount", b"NaN"), "finite_number",
         "order.amount: Input should be a finite number"),
        ("amount_infinity", _literal("order", "amount", b"Infinity"), "finite_number",
         "order.amount: Input should be a finite number (got inf)"),
        ("amount_minus_infinity", _literal("order", "amount", b"-Infinity"), "finite_number",
         "order.amount: Input should be a finite number (got -inf)"),
        ("bad_currency_lowercase", _json("order", currency="usd"), "bad_format",
         "order.currency: String should match pattern"),
        ("bad_currency_symbol", _json("order", currency="€"), "bad_format", "order.currency"),
        ("order_item_zero_quantity", _json("order", items=[
            {"product_id": "p-1", "quantity": 0, "unit_price": 1.0}]), "out_of_range",
         "order.items.0.quantity: Input should be greater than or equal to 1"),
        ("order_items_not_a_list", _json("order", items="p-1"), "wrong_type",
         "order.items: Input should be a valid array"),
        ("order_item_not_an_object", _json("order", items=[1]), "not_an_object",
         "order.items.0: Input should be an object"),
        ("rating_0", _json(score=0), "out_of_range",
         "rating.score: Input should be greater than or equal to 1"),
        ("rating_6", _json(score=6), "out_of_range",
         "rating.score: Input should be less than or equal to 5"),
        ("score_as_string", _json(score="4"), "wrong_type",
         "rating.score: Input should be a valid integer (got '4')"),
        ("score_bool", _json(score=True), "wrong_type", "rating.score: Input should be a valid"),
        ("score_fraction", _json(score=4.5), "wrong_type", "rating.score: Input should be a"),
        ("score_nan", _literal("rating", "score", b"NaN"), "wrong_type", "rating.score"),
        ("score_huge_integer", _literal("rating", "score", b"9" * 30), "out_of_range",
         "rating.score: Input should be less than or equal to 5"),
        ("cart_negative_quantity", _json("cart", quantity=-1), "out_of_range",
         "cart.quantity: Input should be greater than or equal to 0"),
        ("channel_fax", _json("message", channel="fax"), "bad_enum",
         "message.channel: Input should be 'chat', 'email', 'social' or 'phone' (got 'fax')"),
        ("priority_critical", _json("ticket", priority="critical"), "bad_enum",
         "ticket.priority"),
        ("label_kind_unknown", _json("label", kind="topic"), "bad_enum", "label.kind"),
        ("missing_message_text", _json("message", drop=("text",)), "missing_field",
         "message.text: Field required"),
        ("nul_in_text", _json("message", text="hello\x00world"), "bad_format",
         "message.text: String should match pattern"),
        ("text_over_20000_chars", _json("message", text="a" * 20_001), "bad_length",
         "message.text: String should have at most 20000 characters"),
        ("url_with_space", _json("page_view", url="https://shop.example/a b"), "bad_format",
         "page_view.url"),
        ("too_many_tags", _json("ticket", tags=[f"t{i}" for i in range(51)]), "bad_length",
         "ticket.tags: List should have at most 50 items"),
        ("attribute_value_number", _json("subscription", attributes={"seats": 5}),
         "wrong_type", "subscription.attributes.seats: Input should be a valid string"),
    ]
    corpus = [BadInput(name, KEY, value, code, text) for name, value, code, text in cases]
    corpus += [
        BadInput("key_not_customer_id", b"c-0002", good, "key_mismatch",
                 "key: record key 'c-0002' is not the customer_id 'c-0001'"),
        BadInput("key_invalid_utf8", b"\xff\xfe", good, "key_mismatch",
                 "is not the customer_id 'c-0001'"),
    ]
    return corpus


BAD_INPUTS: list[BadInput] = bad_inputs()
