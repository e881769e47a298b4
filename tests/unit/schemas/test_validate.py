"""``schemas.validate.check`` against the malformed-input corpus and valid events."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.events import EVENT_TYPES
from schemas.validate import Accepted, Limits, Rejection, check
from tests.corpus import DEFAULT_LIMITS, sample_event, type_tag, valid_events
from tests.corpus.bad_inputs import BAD_INPUTS, BadInput


def _now() -> datetime:
    return datetime.now(UTC)


def test_corpus_is_large_and_distinct() -> None:
    assert len(BAD_INPUTS) >= 34
    assert len({case.name for case in BAD_INPUTS}) == len(BAD_INPUTS)
    assert len({(case.key, case.value) for case in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.name for case in BAD_INPUTS])
def test_bad_input_is_rejected_with_a_specific_reason(case: BadInput) -> None:
    result = check(case.value, case.key, _now(), DEFAULT_LIMITS)
    assert isinstance(result, Rejection), f"{case.name} was accepted"
    assert result.reason_code == case.reason_code, result.reason
    assert case.reason_contains in result.reason


@pytest.mark.parametrize("key", [None, b"", b"c-0001", b"someone-else", b"\xff"])
@pytest.mark.parametrize("max_bytes", [1, 1024, 10_000_000])
def test_check_never_raises_on_the_corpus(key: bytes | None, max_bytes: int) -> None:
    limits = Limits(max_bytes=max_bytes, max_future_skew_s=0)
    for case in BAD_INPUTS:
        result = check(case.value, key, _now(), limits)
        assert isinstance(result, Accepted | Rejection), case.name


def test_valid_events_are_accepted_under_their_key() -> None:
    records = valid_events(300, seed=7)
    now = _now()
    results = [check(value, key, now, DEFAULT_LIMITS) for key, value in records]
    rejected = [r for r in results if not isinstance(r, Accepted)]
    assert rejected == []
    accepted = [r for r in results if isinstance(r, Accepted)]
    assert len(accepted) == 300
    assert not any(r.rekeyed for r in accepted)
    assert [r.event.customer_id.encode() for r in accepted] == [key for key, _ in records]
    assert len({r.event.event_id for r in accepted}) == 300
    types = Counter(r.event.type for r in accepted)
    assert set(types) == {type_tag(model) for model in EVENT_TYPES} - {"erasure"}
    assert all(now - timedelta(hours=1, seconds=5) <= r.event.occurred_at < now for r in accepted)


def test_valid_events_are_reproducible_per_seed_and_can_include_erasures() -> None:
    ids = [orjson.loads(value)["event_id"] for _, value in valid_events(20, seed=3)]
    assert ids == [orjson.loads(value)["event_id"] for _, value in valid_events(20, seed=3)]
    assert ids != [orjson.loads(value)["event_id"] for _, value in valid_events(20, seed=4)]
    kinds = {orjson.loads(value)["type"] for _, value in valid_events(10, 1, include_erasure=True)}
    assert len(kinds) == len(EVENT_TYPES)


@pytest.mark.parametrize("key", [None, b""])
def test_missing_key_is_accepted_and_rekeyed(key: bytes | None) -> None:
    ((_, value),) = valid_events(1, seed=11)
    result = check(value, key, _now(), DEFAULT_LIMITS)
    assert isinstance(result, Accepted)
    assert result.rekeyed is True
    assert result.event.customer_id == orjson.loads(value)["customer_id"]


def test_payload_exactly_at_the_limit_is_accepted() -> None:
    key, value = valid_events(1, seed=5)[0]
    padded = value + b" " * (DEFAULT_LIMITS.max_bytes - len(value))
    assert len(padded) == DEFAULT_LIMITS.max_bytes
    assert isinstance(check(padded, key, _now(), DEFAULT_LIMITS), Accepted)
    assert isinstance(check(padded + b" ", key, _now(), DEFAULT_LIMITS), Rejection)


def test_future_skew_limit_is_inclusive_of_the_allowed_lead() -> None:
    now = _now()
    skew = timedelta(seconds=DEFAULT_LIMITS.max_future_skew_s)

    def at(occurred_at: datetime) -> bytes:
        return orjson.dumps(
            sample_event("rating", event_id="e-1", customer_id="c-1", occurred_at=occurred_at)
        )

    assert isinstance(check(at(now + skew), b"c-1", now, DEFAULT_LIMITS), Accepted)
    late = check(at(now + skew + timedelta(seconds=1)), b"c-1", now, DEFAULT_LIMITS)
    assert isinstance(late, Rejection)
    assert late.reason_code == "future_timestamp"


def test_brackets_and_escaped_quotes_inside_strings_are_not_nesting() -> None:
    text = '\\"' + "[{" * 2_000 + '"'
    value = orjson.dumps(
        sample_event("message", event_id="e-1", customer_id="c-1", occurred_at=_now())
        | {"text": text}
    )
    result = check(value, b"c-1", _now(), DEFAULT_LIMITS)
    assert isinstance(result, Accepted)
    assert result.event.type == "message"
    assert result.event.text == text


def test_reason_lists_at_most_three_errors_and_counts_the_rest() -> None:
    value = orjson.dumps({"type": "order"})
    result = check(value, None, _now(), DEFAULT_LIMITS)
    assert isinstance(result, Rejection)
    assert result.reason_code == "missing_field"
    assert result.reason.count("Field required") == 3
    assert "(+4 more)" in result.reason  # event_id, customer_id, ... currency: 7 missing


def test_default_limits_are_the_settings_defaults() -> None:
    assert Limits(max_bytes=262_144, max_future_skew_s=300.0) == DEFAULT_LIMITS
