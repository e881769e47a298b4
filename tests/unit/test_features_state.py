"""The state codec: lossless, versioned, small; refuses what is not a state."""

from __future__ import annotations

import statistics

import pytest

from features.definitions import Rules
from features.engine import FeatureEngine
from features.state import CustomerState, StateError
from features.vector import vector
from tests.unit.features_support import replay_events


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
    "raw", [b"", b"not json", b"[2,0,0]", b'{"a": 1}', b"[1,0,0,0]", b"[1,0,0,0,0,null,null,[],[]]"]
)
def test_refuses_what_is_not_a_state(raw: bytes) -> None:
    with pytest.raises(StateError):
        CustomerState.from_bytes(raw)
