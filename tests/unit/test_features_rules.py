"""Each stated rule on a small hand-made history: the stream and the batch agree, and
both give the value the definition says."""

from __future__ import annotations

from typing import Any

import pytest

from features.batch import recompute
from features.definitions import Rules, Vector
from features.engine import FeatureEngine
from features.vector import vector
from schemas.events import Event
from tests.unit.features_support import at, diff, make_event

RULES = Rules(lateness_s=3_600, cart_abandon_s=3_600)


def event(n: int, kind: str, seconds: float, **fields: Any) -> Event:
    return make_event(
        {
            "type": kind,
            "event_id": f"e{n}",
            "customer_id": "c",
            "source": "t",
            "occurred_at": at(seconds),
            **fields,
        }
    )


def msg(n: int, seconds: float, direction: str, conv: str = "k", channel: str = "chat") -> Event:
    return event(
        n,
        "message",
        seconds,
        direction=direction,
        conversation_id=conv,
        channel=channel,
        text="hello",
    )


def both(events: list[Event], rules: Rules = RULES) -> Vector | None:
    """The customer's vector from the engine, after checking the batch agrees."""
    engine = FeatureEngine({}, {}, rules)
    for offset, e in enumerate(events):
        engine.process(e, 0, offset)
    state = engine.state("c")
    streamed = {} if state is None else {"c": vector(state, rules)}
    batch = recompute(events, rules)
    assert diff(streamed, batch) == []
    return streamed.get("c")


def test_window_edges_are_bucket_aligned() -> None:
    base = 10 * 3_600  # a bucket boundary of every tier
    events = [
        event(1, "page_view", base + 299, url="/now"),
        event(2, "page_view", base - 3_300, url="/in-1h"),  # oldest 5-min bucket kept
        event(3, "page_view", base - 3_301, url="/out-1h"),
        event(4, "page_view", base - 23 * 3_600, url="/in-24h"),
        event(5, "page_view", base - 23 * 3_600 - 1, url="/out-24h"),
    ]
    v = both(events, Rules(lateness_s=86_400))
    assert v is not None
    assert (v["page_views_1h"], v["page_views_24h"], v["page_views_all"]) == (2, 4, 5)


def test_late_events_count_in_all_time_only() -> None:
    events = [
        event(1, "order", 10_000, order_id="o1", amount=10.0, currency="EUR"),
        event(2, "order", 10_000 - 3_600, order_id="o2", amount=5.0, currency="EUR"),
        event(3, "order", 10_000 - 3_601, order_id="o3", amount=2.5, currency="EUR"),
    ]
    v = both(events)
    assert v is not None
    assert (v["orders_24h"], v["order_amount_24h"]) == (2, 15.0)
    assert (v["orders_all"], v["order_amount_all"], v["late_events"]) == (3, 17.5, 1)
    assert v["order_mean_all"] == pytest.approx(17.5 / 3)


def test_tickets_follow_their_latest_event_even_out_of_order() -> None:
    events = [
        event(1, "ticket", 100, ticket_id="t1", action="closed"),
        event(2, "ticket", 50, ticket_id="t1", action="opened"),
        event(3, "ticket", 60, ticket_id="t2", action="opened"),
        event(4, "ticket", 70, ticket_id="t2", action="updated"),
    ]
    v = both(events)
    assert v is not None and v["open_tickets"] == 1


def test_replies_and_first_response_times() -> None:
    events = [
        msg(1, 0, "inbound"),
        msg(2, 60, "inbound"),
        msg(3, 180, "outbound"),
        msg(4, 200, "inbound"),
        msg(5, 170, "inbound"),  # late: already answered
        msg(6, 300, "inbound", conv="k2"),
        msg(7, 330, "outbound", conv="k2"),
    ]
    v = both(events)
    assert v is not None
    assert v["unreplied_inbound"] == 1
    assert (v["first_responses"], v["first_response_s_mean"]) == (2, (180 + 30) / 2)
    assert (v["messages_chat_inbound_1h"], v["messages_outbound_1h"]) == (5, 2)


def test_carts_convert_on_an_order_and_are_abandoned_after_the_stated_time() -> None:
    hour = 3_600
    events = [
        event(1, "cart", 0, cart_id="a", action="add", product_id="p"),
        event(2, "order", 600, order_id="o", amount=20.0, currency="EUR"),
        event(3, "cart", 1_000, cart_id="b", action="add", product_id="p"),
        event(4, "page_view", 1_000 + 2 * hour, url="/"),  # b may still convert
        event(5, "cart", 1_000 + 2 * hour, cart_id="c", action="add", product_id="p"),
        event(6, "page_view", 1_001 + 2 * hour, url="/"),
    ]  # now b cannot
    v = both(events)
    assert v is not None
    assert (v["carts_converted"], v["carts_abandoned"], v["carts_open"]) == (1, 1, 1)
    assert v["cart_abandonment_rate"] == 0.5


def test_order_recency_and_rfm() -> None:
    day = 86_400
    events = [
        event(k, "order", k * day, order_id=f"o{k}", amount=120.0, currency="EUR")
        for k in range(1, 6)
    ]
    events.append(event(9, "page_view", 15 * day, url="/"))
    v = both(events, Rules(lateness_s=30 * day))
    assert v is not None
    assert v["days_since_last_order"] == 10.0
    assert (v["rfm_recency"], v["rfm_frequency"], v["rfm_monetary"]) == (4, 4, 4)
    assert v["rfm_score"] == 444


def test_erasure_refuses_older_events_and_accepts_newer_ones() -> None:
    before = [event(1, "page_view", 100, url="/"), event(2, "page_view", 200, url="/")]
    erase = event(3, "erasure", 300)
    replayed = [e.model_copy(update={"event_id": f"again-{e.event_id}"}) for e in before]
    assert both([*before, erase, *replayed]) is None
    after = event(4, "page_view", 301, url="/")
    v = both([*before, erase, *replayed, after])
    assert v is not None and (v["events"], v["page_views_all"]) == (1, 1)


def test_model_outputs_fill_the_slot() -> None:
    engine = FeatureEngine({}, {}, RULES)
    assert engine.set_model_outputs("c", {"churn_risk": 0.3}) is False
    engine.process(event(1, "page_view", 100, url="/"), 0, 0)
    assert engine.set_model_outputs("c", {"churn_risk": 0.3, "sentiment_trend": -0.5})
    state = engine.state("c")
    assert state is not None
    v = vector(state, RULES)
    assert (v["churn_risk"], v["sentiment_trend"]) == (0.3, -0.5)
    with pytest.raises(ValueError, match="not a model output"):
        engine.set_model_outputs("c", {"ltv": 1.0})
