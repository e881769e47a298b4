"""The state codec: lossless, versioned, small; refuses what is not a state."""

from __future__ import annotations

import statistics

import orjson
import pytest

from features.definitions import Rules
from features.engine import FeatureEngine
from features.state import CustomerState, StateError
from features.vector import vector
from tests.support.features import replay_events


def test_round_trip_of_every_state_after_a_replay() -> None:
    engine = FeatureEngine({}, {}, Rules(), cache_max=10)  # most reads decode the table
    for offset, event in enumerate(replay_events(3_000, seed=5)):
        engine.process(event, 1, offset)
    assert len(engine.table) > 200
    for raw in engine.table.values():
        state = CustomerState.from_bytes(raw)
        assert state.to_bytes() == raw
        assert (state.partition, state.offset >= 0) == (1, True)
    engine.cache.clear()
    cached = FeatureEngine(engine.table, {}, Rules())
    for customer in list(engine.table)[:50]:
        a, b = engine.state(customer), cached.state(customer)
        assert a is not None and b is not None
        assert vector(a, Rules()) == vector(b, Rules())


def test_state_stays_small() -> None:
    engine = FeatureEngine({}, {}, Rules())
    for offset, event in enumerate(replay_events(6_000, seed=8, customers=300)):
        engine.process(event, 0, offset)
    sizes = sorted(len(raw) for raw in engine.table.values())
    assert statistics.mean(sizes) < 400
    assert sizes[int(len(sizes) * 0.99)] <= 1024


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[3,0,0]", b'{"a": 1}', b"[1,0,0,0]", b"[2,0,0,0,0,null,null,[],[]]"]
)
def test_refuses_what_is_not_a_state(raw: bytes) -> None:
    with pytest.raises(StateError):
        CustomerState.from_bytes(raw)


def test_a_version_1_state_is_read_with_its_totals_in_place() -> None:
    """Version 1 had no other-currency metric (13): its all-time counters move up one."""
    totals = [0] * 8 + [1, 1999, 0, 0, 0] + [3, 1, 1, 60]  # orders, cents | events..s
    raw = orjson.dumps([1, 2, 7, 1_000, 500, None, 0, totals, [{}, {}, {}], [], [], [], {}])
    state = CustomerState.from_bytes(raw)
    v = vector(state, Rules())
    assert (v["orders_all"], v["order_amount_all"], v["orders_other_currency"]) == (1, 19.99, 0)
    assert (v["events"], v["late_events"], v["first_responses"]) == (3, 1, 1)
    assert (v["first_response_s_mean"], state.offset) == (60.0, 7)
    assert CustomerState.from_bytes(state.to_bytes()).to_bytes() == state.to_bytes()


def test_decoded_states_in_memory_are_bounded_and_exact() -> None:
    """``RAPPORT_FEATURES_CACHE_CUSTOMERS``: at most that many decoded states, the most
    recently written kept; a customer read back from the table has the same features as
    one that stayed in memory."""
    events = list(replay_events(3_000, seed=11, customers=400))
    small = FeatureEngine({}, {}, Rules(), cache_max=20)
    whole = FeatureEngine({}, {}, Rules(), cache_max=10_000)
    for offset, event in enumerate(events):
        small.process(event, 0, offset)
        whole.process(event, 0, offset)
        assert len(small.cache) <= 20
    assert len(whole.cache) == len(whole.table) > 200
    last = events[-1].customer_id
    assert last in small.cache, "the customer written last stays in memory"
    for customer in whole.table:
        a, b = small.state(customer), whole.state(customer)
        assert a is not None and b is not None
        assert vector(a, Rules()) == vector(b, Rules()), customer
