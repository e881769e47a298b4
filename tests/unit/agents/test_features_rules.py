"""Each stated rule on a small hand-made history: the stream and the batch agree, and
both give the value the definition says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from agents.customer_features.agent import rules_of
from features.batch import recompute
from features.definitions import Rules, Vector
from features.engine import FeatureEngine
from features.vector import vector
from schemas.events import Event
from streams.core.settings import Settings
from tests.support.features import at, diff, make_event

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
        event(1, "order", 10_000, order_id="o1", amount=10.0, currency="USD"),
        event(2, "order", 10_000 - 3_600, order_id="o2", amount=5.0, currency="USD"),
        event(3, "order", 10_000 - 3_601, order_id="o3", amount=2.5, currency="USD"),
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
        event(2, "order", 600, order_id="o", amount=20.0, currency="USD"),
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
        event(k, "order", k * day, order_id=f"o{k}", amount=120.0, currency="USD")
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


def order(n: int, seconds: float, amount: float, currency: str) -> Event:
    return event(n, "order", seconds, order_id=f"o{n}", amount=amount, currency=currency)


def other_currency_total() -> float:
    return REGISTRY.get_sample_value("rapport_features_orders_other_currency_total") or 0.0


def test_only_base_currency_orders_count_in_amounts_and_rfm() -> None:
    events = [
        order(1, 100, 10.0, "USD"),
        order(2, 200, 2_000.0, "EUR"),
        order(3, 300, 900.0, "XYZ"),  # well-formed, but no currency: never converted
        order(4, 400, 5.5, "USD"),
    ]
    before = other_currency_total()
    v = both(events)
    assert v is not None
    assert other_currency_total() - before == 2
    assert (v["orders_1h"], v["orders_all"], v["orders_other_currency"]) == (4, 4, 2)
    assert (v["order_amount_1h"], v["order_amount_all"]) == (15.5, 15.5)
    assert (v["order_mean_1h"], v["order_mean_all"]) == (7.75, 7.75)
    # frequency counts every order (4: score 3); monetary only the 15.50 USD (score 1)
    assert (v["rfm_frequency"], v["rfm_monetary"], v["rfm_score"]) == (3, 1, 531)

    euro = both(events, Rules(base_currency="EUR"))
    assert euro is not None
    assert (euro["orders_all"], euro["orders_other_currency"]) == (4, 3)
    assert (euro["order_amount_all"], euro["order_mean_all"], euro["rfm_monetary"]) == (
        2_000.0,
        2_000.0,
        5,
    )


def test_orders_only_in_other_currencies_have_no_amount_nor_mean() -> None:
    v = both([order(1, 100, 50.0, "EUR"), order(2, 30, 70.0, "GBP")])  # out of order, not late
    assert v is not None
    assert (v["orders_all"], v["orders_24h"], v["orders_other_currency"]) == (2, 2, 2)
    assert (v["order_amount_all"], v["order_mean_all"], v["order_mean_24h"]) == (0.0, None, None)
    assert (v["rfm_frequency"], v["rfm_monetary"]) == (2, 1)


def test_the_base_currency_is_a_checked_setting() -> None:
    assert rules_of(Settings(features_base_currency="EUR")).base_currency == "EUR"
    assert rules_of(Settings()).base_currency == "USD"
    with pytest.raises(ValidationError, match="features_base_currency"):
        Settings(features_base_currency="eur")
    with pytest.raises(ValidationError, match="currency"):
        make_event(
            {
                "type": "order",
                "event_id": "x",
                "customer_id": "c",
                "source": "t",
                "occurred_at": at(0),
                "order_id": "o",
                "amount": 1.0,
                "currency": "usd",
            }
        )


MIDNIGHT = datetime(2024, 3, 10, tzinfo=UTC)  # a day-bucket edge (buckets are UTC-aligned)
DAY = 86_400
EDGES = [-6 * DAY - 1, -6 * DAY, -23 * 3_600 - 1, -23 * 3_600, -3_301, -3_300, -1, 0, 30]
"""Seconds around UTC midnight: each pair straddles the first bucket of a window ending
at the watermark ``MIDNIGHT + 30 s`` (7 d: day buckets, 24 h: hours, 1 h: 5 minutes)."""


def zoned(offset_h: int) -> list[Event]:
    zone = timezone(timedelta(hours=offset_h))
    out = []
    for n, s in enumerate(EDGES):
        when = (MIDNIGHT + timedelta(seconds=s)).astimezone(zone).isoformat()
        kind: tuple[str, dict[str, Any]] = ("page_view", {"url": "/"})
        if n % 3 == 1:
            kind = ("order", {"order_id": f"o{n}", "amount": 10.0 + n, "currency": "USD"})
        elif n % 3 == 2:
            message = {"direction": "inbound", "channel": "email", "text": "hi"}
            kind = ("message", {**message, "conversation_id": f"k{n}"})
        fields = {"type": kind[0], "event_id": f"e{n}", "customer_id": "c", "source": "t"}
        out.append(make_event({**fields, "occurred_at": when, **kind[1]}))
    return out


def test_the_same_instants_in_any_time_zone_give_identical_features() -> None:
    utc, east, west = zoned(0), zoned(14), zoned(-12)
    assert str(east[-2].occurred_at) == "2024-03-10 14:00:00+14:00"
    assert str(west[-3].occurred_at) == "2024-03-09 11:59:59-12:00"
    rules = Rules(lateness_s=30 * DAY)
    v = both(utc, rules)
    assert v is not None
    assert both(east, rules) == v and both(west, rules) == v
    windows = ("1h", "24h", "7d", "30d", "all")
    # n % 3 == 0 page views at EDGES[0, 3, 6]; orders [1, 4, 7]; messages [2, 5, 8]
    assert [v[f"page_views_{w}"] for w in windows] == [1, 2, 2, 3, 3]
    assert [v[f"orders_{w}"] for w in windows] == [1, 2, 3, 3, 3]
    assert [v[f"messages_inbound_{w}"] for w in windows] == [2, 2, 3, 3, 3]
    assert (v["first_seen"], v["last_seen"]) == (
        "2024-03-03T23:59:59+00:00",
        "2024-03-10T00:00:30+00:00",
    )
    assert v["order_amount_24h"] == 14.0 + 17.0 and v["unreplied_inbound"] == 3
