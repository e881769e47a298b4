"""The per-customer caps: a hot customer's state stays small and fast to write, and the
stream still equals the batch recomputation, which applies the same stated caps."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from prometheus_client import REGISTRY

from features.batch import recompute
from features.definitions import Rules, Vector
from features.engine import FeatureEngine
from features.vector import vector
from schemas.events import Event
from tests.support.features import at, diff, make_event, replay_events, with_erasures
from tests.unit.features.test_features_engine import run

BURST = 50_000


def event(n: int, kind: str, seconds: float, customer: str = "hot", **fields: Any) -> Event:
    return make_event(
        {
            "type": kind,
            "event_id": f"e{n}",
            "customer_id": customer,
            "source": "t",
            "occurred_at": at(seconds),
            **fields,
        }
    )


def msg(n: int, seconds: float, direction: str, conv: str) -> Event:
    return event(
        n, "message", seconds, direction=direction, conversation_id=conv, channel="chat", text="?"
    )


def ticket(n: int, seconds: float, ticket_id: str, action: str = "opened") -> Event:
    return event(n, "ticket", seconds, ticket_id=ticket_id, action=action, subject="help")


def untracked(kind: str) -> float:
    return REGISTRY.get_sample_value("rapport_features_untracked_total", {"kind": kind}) or 0.0


def streamed(events: list[Event], rules: Rules) -> tuple[dict[str, Vector], list[int]]:
    engine = FeatureEngine({}, {}, rules)
    sizes = [engine.process(e, 0, offset).size for offset, e in enumerate(events)]
    return {c: vector(s, rules) for c in engine.table if (s := engine.state(c))}, sizes


def test_a_burst_of_unanswered_messages_and_tickets_stays_small_and_exact() -> None:
    """50,000 events of one customer, one a second: inbound messages over 500
    conversations that nobody answers, and new tickets that nobody closes."""
    burst = [
        msg(k, k, "inbound", f"conv{k % 1_000}") if k % 2 == 0 else ticket(k, k, f"t{k}")
        for k in range(BURST)
    ]
    burst += [msg(BURST, BURST, "outbound", "conv0"), msg(BURST + 1, BURST + 1, "inbound", "conv2")]
    rules = Rules()
    before = {kind: untracked(kind) for kind in ("message", "ticket")}
    started = time.process_time()  # CPU time: other processes on the machine do not count
    features, sizes = streamed(burst, rules)
    elapsed = time.process_time() - started
    assert elapsed < 20.0, f"{elapsed:.1f} s CPU for {BURST:,} events"  # uncapped: minutes
    assert max(sizes) < 3_072, f"largest state written: {max(sizes):,} B"

    v = features["hot"]
    half = BURST // 2
    # the first 32 inbound messages (32 conversations) and tickets are held, the rest counted
    assert (v["messages_inbound_all"], v["messages_untracked"]) == (half + 1, half - 32)
    assert (v["open_tickets"], v["ticket_events_untracked"]) == (32, half - 32)
    # the reply to conv0 frees a slot: conv2's new message is held again
    assert (v["unreplied_inbound"], v["first_responses"], v["first_response_s_mean"]) == (
        32,
        1,
        float(BURST),
    )
    assert untracked("message") - before["message"] == half - 32
    assert untracked("ticket") - before["ticket"] == half - 32
    assert diff(features, recompute(burst, rules)) == []


def test_settled_entries_make_room_under_the_caps() -> None:
    hour = 3_600
    rules = Rules(lateness_s=hour, max_conversations=2, max_pending=3, max_tickets=2)
    events = [
        ticket(1, 0, "t1"),
        ticket(2, 10, "t2"),
        ticket(3, 20, "t3"),  # a third ticket: not tracked
        ticket(4, 30, "t1", "closed"),
        ticket(5, 40, "t3", "updated"),  # t1 is closed but not settled yet: still not tracked
        msg(6, 50, "inbound", "a"),
        msg(7, 60, "inbound", "a"),
        msg(8, 45, "inbound", "b"),  # out of order
        msg(9, 70, "inbound", "b"),  # a fourth pending message: not tracked
        msg(10, 80, "inbound", "c"),  # a third conversation: not tracked
        msg(11, 90, "outbound", "a"),  # answers 50 and 60
        msg(12, 100, "inbound", "b"),  # room again
        event(13, "page_view", 31 + hour, url="/"),  # W - L passes t1's close: it leaves
        ticket(14, 32 + hour, "t3", "updated"),  # now tracked
    ]
    features, _ = streamed(events, rules)
    v = features["hot"]
    assert (v["open_tickets"], v["ticket_events_untracked"]) == (2, 2)
    assert (v["unreplied_inbound"], v["messages_untracked"]) == (2, 2)
    assert (v["first_responses"], v["first_response_s_mean"]) == (1, 40.0)
    assert diff(features, recompute(events, rules)) == []


def test_tight_caps_on_a_replay_with_crashes_still_equal_the_batch() -> None:
    """Out-of-order and late events, erasures, SIGKILLs and re-forwards (the engine test's
    simulated worker), with caps a few customers hit all the time."""
    events = replay_events(4_000, seed=11)
    erased = [c for c, _ in Counter(e.customer_id for e in events).most_common(6)][1::3]
    events = with_erasures(events, erased)
    rules = Rules(lateness_s=1_800, max_conversations=2, max_pending=2, max_tickets=1)
    worker = run(events, rules, seed=11, crash_p=0.05)
    assert worker.crashes >= 3 and worker.outcomes["replayed"] > 0
    expected = recompute(events, rules)
    assert diff(worker.vectors(), expected) == []
    untracked = Counter[str]()
    for v in expected.values():
        untracked["messages"] += int(v["messages_untracked"] or 0)
        untracked["tickets"] += int(v["ticket_events_untracked"] or 0)
    assert untracked["messages"] > 10 and untracked["tickets"] > 20, untracked
