"""Turn one raw Kafka record into a valid event or a specific rejection. Pure: no I/O.

>>> from datetime import datetime, timezone
>>> limits = Limits(max_bytes=1024, max_future_skew_s=60)
>>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> check(b'{"type": "rating"}', b"c1", now, limits).reason_code
'missing_field'
>>> check(b"\\xff", None, now, limits).reason
'payload: invalid UTF-8 at byte 0'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.events import Event, parse_event

MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_future_skew_s: float


@dataclass(frozen=True)
class Rejection:
    reason_code: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    event: Event
    rekeyed: bool


def check(
    raw: bytes | None, key: bytes | None, now: datetime, limits: Limits
) -> Accepted | Rejection:
    """Validate size, encoding, shape, types, ranges, event time and the record key."""
    if raw is None or raw == b"":
        return Rejection("empty_payload", "payload: empty (tombstone or null value)")
    refused = _check_bytes(raw, limits)
    if refused is not None:
        return refused
    try:
        event = parse_event(raw)
    except ValidationError as exc:
        return _rejection(exc.errors(include_url=False))
    return _check_time(event, now, limits) or _check_key(event, key)


def _check_bytes(raw: bytes, limits: Limits) -> Rejection | None:
    """Size, encoding and nesting, before the JSON parser sees the bytes."""
    if len(raw) > limits.max_bytes:
        return Rejection(
            "oversized", f"payload: {len(raw)} bytes exceeds the {limits.max_bytes}-byte limit"
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"payload: invalid UTF-8 at byte {exc.start}")
    depth = _max_depth(raw)
    if depth > MAX_JSON_DEPTH:
        return Rejection(
            "too_deep", f"payload: JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH})"
        )
    return None


def _check_time(event: Event, now: datetime, limits: Limits) -> Rejection | None:
    """``occurred_at`` must convert to UTC and may lead ``now`` by the allowed skew only."""
    where = f"{event.type}.occurred_at: {event.occurred_at.isoformat()}"
    try:
        event.occurred_at.astimezone(UTC)
    except OverflowError:
        return Rejection("out_of_range", f"{where} is outside the UTC range")
    skew = event.occurred_at - now
    if skew > timedelta(seconds=limits.max_future_skew_s):
        return Rejection(
            "future_timestamp",
            f"{where} is {skew.total_seconds():.0f}s in the future "
            f"(limit {limits.max_future_skew_s:.0f}s)",
        )
    return None


def _check_key(event: Event, key: bytes | None) -> Accepted | Rejection:
    """A missing key is re-keyed by ingest; a present one must be the customer_id."""
    if key is None or key == b"":
        return Accepted(event, rekeyed=True)
    if key != event.customer_id.encode():
        return Rejection(
            "key_mismatch",
            f"key: record key {key[:64].decode(errors='replace')!r} is not the customer_id "
            f"{event.customer_id!r}",
        )
    return Accepted(event, rekeyed=False)


def _max_depth(raw: bytes) -> int:
    """Bracket depth outside strings; cheap guard before the parser sees hostile nesting."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


_CODES = {
    "missing": "missing_field",
    "json_invalid": "not_json",
    "dict_type": "not_an_object",
    "model_type": "not_an_object",
    "model_attributes_type": "not_an_object",
    "union_tag_invalid": "unknown_event_type",
    "union_tag_not_found": "missing_event_type",
    "timezone_aware": "naive_timestamp",
    "string_pattern_mismatch": "bad_format",
    "literal_error": "bad_enum",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
    "string_too_short": "bad_length",
    "string_too_long": "bad_length",
    "too_long": "bad_length",
}


def _rejection(errors: list[ErrorDetails]) -> Rejection:
    first = errors[0]
    etype = first["type"]
    code = _CODES.get(etype) or ("wrong_type" if etype.endswith("_type") else etype)
    parts = []
    for err in errors[:3]:
        path = ".".join(str(p) for p in err["loc"]) or _root(err["type"])
        parts.append(f"{path}: {err['msg']}{_shown(err.get('input'), err['type'])}")
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return Rejection(code, "; ".join(parts) + more)


def _root(etype: str) -> str:
    """Where a payload-level error lies: the discriminator for tag errors, else the payload."""
    return "type" if etype.startswith("union_tag") else "payload"


def _shown(value: Any, etype: str) -> str:
    if etype in ("missing", "json_invalid") or isinstance(value, dict | list):
        return ""
    text = repr(value)
    return f" (got {text[:60]})"
