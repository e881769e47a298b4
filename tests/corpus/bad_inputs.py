"""Malformed inputs, each with the rejection ``schemas.validate.check`` must give.

Every ``BadInput`` names the expected ``reason_code`` and a substring of the reason
that says what is wrong (usually the field path, e.g. ``order.amount``). The
expectations hold for the default limits, ``DEFAULT_LIMITS``.

>>> len(BAD_INPUTS) >= 34, len({case.name for case in BAD_INPUTS}) == len(BAD_INPUTS)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tests.corpus import DEFAULT_LIMITS, sample_event, valid_events

__all__ = ["BAD_INPUTS", "DEFAULT_LIMITS", "BadInput", "bad_inputs", "valid_events"]

CUSTOMER = "c-0001"
KEY = CUSTOMER.encode()
_TOKEN = "@@token@@"


@dataclass(frozen=True)
class BadInput:
    name: str
    key: bytes | None
    value: bytes | None
    reason_code: str
    reason_contains: str


def _fields(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    ago = datetime.now(UTC) - timedelta(minutes=5)
    event = sample_event(kind, event_id="e-bad-1", customer_id=CUSTOMER, occurred_at=ago)
    return event | fields


def _ev(kind: str = "rating", /, **fields: Any) -> bytes:
    """A valid event of type ``kind`` with ``fields`` overridden."""
    return orjson.dumps(_fields(kind, fields))


def _without(name: str, kind: str = "rating") -> bytes:
    event = _fields(kind, {})
    del event[name]
    return orjson.dumps(event)


def _raw(kind: str, field: str, token: bytes) -> bytes:
    """An event whose ``field`` is a raw JSON token orjson would never write."""
    return _ev(kind, **{field: _TOKEN}).replace(f'"{_TOKEN}"'.encode(), token)


def _nested(depth: int, open_: bytes, close: bytes, inner: bytes = b"") -> bytes:
    return open_ * depth + inner + close * depth


def _bad(name: str, value: bytes | None, reason_code: str, reason_contains: str) -> BadInput:
    return BadInput(name, KEY, value, reason_code, reason_contains)


def bad_inputs() -> list[BadInput]:
    """The corpus; timestamps are relative to the time of the call."""
    now = datetime.now(UTC)
    good, limit = _ev(), DEFAULT_LIMITS.max_bytes
    deep_arrays = _raw("rating", "x", _nested(1000, b"[", b"]"))
    deep_objects = _raw("rating", "x", _nested(100, b'{"a":', b"}", b"1"))
    skew = f"in the future (limit {DEFAULT_LIMITS.max_future_skew_s:.0f}s)"
    when = "rating.occurred_at: Input should be a valid datetime"
    score = "rating.score: Input should be"
    finite = "order.amount: Input should be a finite number"
    item = {"product_id": "p-1", "quantity": 0, "unit_price": 1.0}
    return [
        # --- bytes, encoding, JSON shape
        _bad("not_json", b"this is not json", "not_json", "payload: Invalid JSON"),
        _bad("json_array", b"[{}]", "not_an_object", "payload: Input should be an object"),
        _bad("json_string", b'"rating"', "not_an_object", "object (got 'rating')"),
        _bad("json_number", b"42", "not_an_object", "payload: Input should be an object (got 42)"),
        _bad("json_null_literal", b"null", "not_an_object", "object (got None)"),
        _bad("whitespace_only", b" \n\t ", "not_json", "EOF while parsing"),
        _bad("truncated_json", good[:-7], "not_json", "EOF while parsing"),
        _bad("trailing_garbage", good + b"xyz", "not_json", "trailing characters"),
        _bad("two_documents", good + b"\n" + good, "not_json", "trailing characters"),
        _bad("utf8_bom", b"\xef\xbb\xbf" + good, "not_json", "payload: Invalid JSON"),
        _bad("invalid_utf8", good.replace(b"web", b"w\xe9b"), "invalid_utf8", "invalid UTF-8"),
        _bad("lone_surrogate", _raw("message", "text", b'"\\ud800"'), "not_json", "Invalid JSON"),
        _bad("tombstone", None, "empty_payload", "payload: empty (tombstone"),
        _bad("empty_value", b"", "empty_payload", "payload: empty"),
        _bad("payload_2mb", _ev(comment="x" * 2_000_000), "oversized", f"the {limit}-byte limit"),
        _bad("over_limit_by_1", good.ljust(limit + 1), "oversized", f"{limit + 1} bytes exceeds"),
        _bad("nested_arrays_1000", deep_arrays, "too_deep", "payload: JSON nested 1001 levels"),
        _bad("nested_objects_100", deep_objects, "too_deep", "payload: JSON nested 101 levels"),
        # --- the envelope
        _bad("empty_object", b"{}", "missing_event_type", "type: Unable to extract tag"),
        _bad("missing_type", _without("type"), "missing_event_type", "discriminator 'type'"),
        _bad("unknown_type", _ev(type="refund"), "unknown_event_type", "type: Input tag 'refund'"),
        _bad("type_not_string", _ev(type=5), "unknown_event_type", "type: Input tag '5'"),
        _bad("no_event_id", _without("event_id"), "missing_field", "rating.event_id: Field"),
        _bad("no_customer_id", _without("customer_id"), "missing_field", "rating.customer_id"),
        _bad("no_occurred_at", _without("occurred_at"), "missing_field", "rating.occurred_at"),
        _bad("no_source", _without("source"), "missing_field", "rating.source: Field required"),
        _bad("empty_event_id", _ev(event_id=""), "bad_length", "rating.event_id: String should"),
        _bad("overlong_id", _ev(customer_id="c" * 129), "bad_length", "at most 128 characters"),
        _bad("nul_in_id", _ev(event_id="e\x001"), "bad_format", "rating.event_id: String should"),
        _bad("space_in_id", _ev(customer_id="c 1"), "bad_format", "rating.customer_id: String"),
        _bad("id_is_number", _ev(customer_id=1), "wrong_type", "rating.customer_id: Input should"),
        _bad("id_is_null", _ev(event_id=None), "wrong_type", "rating.event_id: Input should"),
        _bad("newline_in_source", _ev(source="we\nb"), "bad_format", "rating.source: String"),
        _bad(
            "naive_timestamp",
            _ev(occurred_at=now.replace(tzinfo=None)),
            "naive_timestamp",
            "rating.occurred_at: Input should have timezone info",
        ),
        _bad(
            "ten_years_ahead", _ev(occurred_at=now + timedelta(days=3653)), "future_timestamp", skew
        ),
        _bad("timestamp_word", _ev(occurred_at="yesterday"), "datetime_parsing", when),
        _bad("timestamp_epoch", _ev(occurred_at=1_767_225_600), "wrong_type", when),
        _bad(
            "february_30",
            _ev(occurred_at="2026-02-30T10:00:00Z"),
            "datetime_parsing",
            "day value is outside expected range",
        ),
        _bad(
            "before_utc_year_1",
            _ev(occurred_at="0001-01-01T00:00:00+01:00"),
            "out_of_range",
            "rating.occurred_at: 0001-01-01T00:00:00+01:00 is outside the UTC range",
        ),
        _bad(
            "schema_version_2",
            _ev(schema_version="2.0"),
            "bad_format",
            "rating.schema_version: String should match pattern",
        ),
        _bad(
            "schema_version_float",
            _raw("rating", "schema_version", b"1.0"),
            "wrong_type",
            "rating.schema_version: Input should be a valid string",
        ),
        # --- types and ranges of the records
        _bad(
            "negative_amount",
            _ev("order", amount=-1.5),
            "out_of_range",
            "order.amount: Input should be greater than or equal to 0",
        ),
        _bad(
            "amount_too_large",
            _ev("order", amount=2e12),
            "out_of_range",
            "order.amount: Input should be less than or equal to 1000000000000",
        ),
        _bad(
            "amount_as_string",
            _ev("order", amount="12.5"),
            "wrong_type",
            "order.amount: Input should be a valid number (got '12.5')",
        ),
        _bad("amount_nan", _raw("order", "amount", b"NaN"), "finite_number", f"{finite} (got nan)"),
        _bad("amount_inf", _raw("order", "amount", b"Infinity"), "finite_number", finite),
        _bad("amount_minus_inf", _raw("order", "amount", b"-Infinity"), "finite_number", finite),
        _bad("currency_lowercase", _ev("order", currency="usd"), "bad_format", "order.currency"),
        _bad("currency_symbol", _ev("order", currency="€"), "bad_format", "order.currency"),
        _bad(
            "item_zero_quantity",
            _ev("order", items=[item]),
            "out_of_range",
            "order.items.0.quantity: Input should be greater than or equal to 1",
        ),
        _bad("items_not_a_list", _ev("order", items="p-1"), "wrong_type", "order.items: Input"),
        _bad("item_not_an_object", _ev("order", items=[1]), "not_an_object", "order.items.0"),
        _bad("rating_0", _ev(score=0), "out_of_range", f"{score} greater than or equal to 1"),
        _bad("rating_6", _ev(score=6), "out_of_range", f"{score} less than or equal to 5"),
        _bad("score_as_string", _ev(score="4"), "wrong_type", f"{score} a valid integer (got '4')"),
        _bad("score_bool", _ev(score=True), "wrong_type", f"{score} a valid integer (got True)"),
        _bad("score_fraction", _ev(score=4.5), "wrong_type", f"{score} a valid integer (got 4.5)"),
        _bad("score_nan", _raw("rating", "score", b"NaN"), "wrong_type", f"{score} a valid"),
        _bad("score_huge", _raw("rating", "score", b"9" * 30), "out_of_range", f"{score} less"),
        _bad("negative_quantity", _ev("cart", quantity=-1), "out_of_range", "cart.quantity"),
        _bad(
            "channel_fax",
            _ev("message", channel="fax"),
            "bad_enum",
            "message.channel: Input should be 'chat', 'email', 'social' or 'phone' (got 'fax')",
        ),
        _bad("priority_critical", _ev("ticket", priority="critical"), "bad_enum", "priority"),
        _bad("label_kind_topic", _ev("label", kind="topic"), "bad_enum", "label.kind: Input"),
        _bad("no_message_text", _without("text", "message"), "missing_field", "message.text"),
        _bad("nul_in_text", _ev("message", text="hi\x00there"), "bad_format", "message.text"),
        _bad(
            "text_over_20000",
            _ev("message", text="a" * 20_001),
            "bad_length",
            "message.text: String should have at most 20000 characters",
        ),
        _bad(
            "url_with_space",
            _ev("page_view", url="https://x.example/a b"),
            "bad_format",
            "page_view.url: String should match pattern",
        ),
        _bad(
            "too_many_tags",
            _ev("ticket", tags=[f"t{i}" for i in range(51)]),
            "bad_length",
            "ticket.tags: List should have at most 50 items",
        ),
        _bad(
            "attribute_number",
            _ev("subscription", attributes={"seats": 5}),
            "wrong_type",
            "subscription.attributes.seats: Input should be a valid string",
        ),
        # --- the record key
        BadInput(
            "key_not_customer_id",
            b"c-0002",
            good,
            "key_mismatch",
            "key: record key 'c-0002' is not the customer_id 'c-0001'",
        ),
        BadInput("key_invalid_utf8", b"\xff\xfe", good, "key_mismatch", "is not the customer_id"),
    ]


BAD_INPUTS: list[BadInput] = bad_inputs()
