"""A customer's features from its state: the vector served by Redis, HTTP and snapshots.

Windows are evaluated at the watermark ``W`` (``last_seen``); the vector is a pure
function of the state, so any worker holding the state serves the same values.

>>> from features.apply import apply
>>> from features.definitions import Fact, Rules
>>> state = CustomerState.new(0)
>>> _ = apply(state, Fact("order", 86_400 * 3, ((8, 1), (9, 1999))), Rules())
>>> v = vector(state, Rules())
>>> v["orders_1h"], v["order_amount_all"], v["rfm_score"], v["last_seen"]
(1, 19.99, 511, '1970-01-04T00:00:00+00:00')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from features.definitions import (
    CARTS_ABANDONED,
    CARTS_CONVERTED,
    CHANNELS,
    CLOSED,
    DIRECTIONS,
    EVENTS,
    LATE,
    MESSAGES_UNTRACKED,
    MODEL_OUTPUTS,
    N_METRICS,
    ORDER_CENTS,
    ORDERS,
    ORDERS_OTHER,
    PAGE_VIEWS,
    RATING_SUM,
    RATINGS,
    RESPONSE_S,
    RESPONSES,
    TICKETS_UNTRACKED,
    Rules,
    Vector,
    rfm,
)
from features.state import CustomerState
from features.windows import WINDOWS


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def ratio(num: int, den: int, scale: float = 1.0) -> float | None:
    return num / den / scale if den else None


def window_sums(
    state: CustomerState, names: Iterable[str] = tuple(WINDOWS)
) -> dict[str, list[int]]:
    """The windowed metrics per window name (of ``names``; and ``all``: the all-time
    totals)."""
    sums: dict[str, list[int]] = {}
    for name in names:
        window = WINDOWS[name]
        first = window.first_bucket(state.wm)
        acc = [0] * N_METRICS
        for bucket, values in state.tiers[window.tier].items():
            if bucket >= first:
                for metric, amount in values.items():
                    acc[metric] += amount
        sums[name] = acc
    sums["all"] = state.totals[:N_METRICS]
    return sums


def windowed(sums: dict[str, list[int]]) -> Vector:
    """The windowed features from the metric sums (shared with the batch recomputation)."""
    out: Vector = {}
    for name, m in sums.items():
        for c, channel in enumerate(CHANNELS):
            for d, direction in enumerate(DIRECTIONS):
                out[f"messages_{channel}_{direction}_{name}"] = m[c * 2 + d]
        out[f"messages_inbound_{name}"] = sum(m[c * 2] for c in range(len(CHANNELS)))
        out[f"messages_outbound_{name}"] = sum(m[c * 2 + 1] for c in range(len(CHANNELS)))
        out[f"orders_{name}"] = m[ORDERS]
        out[f"order_amount_{name}"] = m[ORDER_CENTS] / 100
        out[f"order_mean_{name}"] = ratio(m[ORDER_CENTS], m[ORDERS] - m[ORDERS_OTHER], 100)
        out[f"page_views_{name}"] = m[PAGE_VIEWS]
        out[f"ratings_{name}"] = m[RATINGS]
        out[f"rating_mean_{name}"] = ratio(m[RATING_SUM], m[RATINGS])
    return out


def untracked(orders_other: int, messages: int, tickets: int) -> Vector:
    """The counters of what the currency rule and the caps left out."""
    return {
        "orders_other_currency": orders_other,
        "messages_untracked": messages,
        "ticket_events_untracked": tickets,
    }


def order_features(wm: int, last_order: int | None, orders: int, cents: int) -> Vector:
    since = None if last_order is None else wm - last_order
    r, f, m = rfm(since, orders, cents)
    return {
        "days_since_last_order": None if since is None else since / 86_400,
        "rfm_recency": r,
        "rfm_frequency": f,
        "rfm_monetary": m,
        "rfm_score": r * 100 + f * 10 + m if r else None,
    }


MODEL_WINDOWS: Final = ("7d", "30d")
"""The windows the models read (``model_inputs``)."""


def model_inputs(state: CustomerState, rules: Rules) -> Vector:
    """What the online models read of :func:`vector`, computed alone: the windowed
    features of ``MODEL_WINDOWS`` and all time, the activity counters, the order features
    and the model outputs (the same values as :func:`vector` gives them, without the
    ~140 others: the behaviour step reads the customer's vector once per batch)."""
    wm, totals = state.wm, state.totals
    stale = wm - rules.stale_s
    out = windowed(window_sums(state, MODEL_WINDOWS))
    out["events"] = totals[EVENTS]
    out["open_tickets"] = sum(
        1 for t, rank in state.tickets.values() if rank != CLOSED and t >= stale
    )
    out["unreplied_inbound"] = sum(
        1 for _, pending in state.convs.values() for i in pending if i >= stale
    )
    out["carts_open"] = len(state.carts)
    out["carts_abandoned"] = totals[CARTS_ABANDONED]
    out.update(order_features(wm, state.last_order, totals[ORDERS], totals[ORDER_CENTS]))
    for name in MODEL_OUTPUTS:
        out[name] = state.models.get(name)
    return out


def vector(state: CustomerState, rules: Rules) -> Vector:
    """Every feature of ``FEATURE_NAMES`` for this customer."""
    wm, totals = state.wm, state.totals
    stale = wm - rules.stale_s
    out = windowed(window_sums(state))
    abandoned, converted = totals[CARTS_ABANDONED], totals[CARTS_CONVERTED]
    out.update(
        {
            "events": totals[EVENTS],
            "late_events": totals[LATE],
            "first_seen": iso(state.first),
            "last_seen": iso(wm),
            "open_tickets": sum(
                1 for t, rank in state.tickets.values() if rank != CLOSED and t >= stale
            ),
            "unreplied_inbound": sum(
                1 for _, pending in state.convs.values() for i in pending if i >= stale
            ),
            "first_responses": totals[RESPONSES],
            "first_response_s_mean": ratio(totals[RESPONSE_S], totals[RESPONSES]),
        }
    )
    out.update(order_features(wm, state.last_order, totals[ORDERS], totals[ORDER_CENTS]))
    out.update(
        {
            "carts_open": len(state.carts),
            "carts_abandoned": abandoned,
            "carts_converted": converted,
            "cart_abandonment_rate": ratio(abandoned, abandoned + converted),
        }
    )
    out.update(
        untracked(totals[ORDERS_OTHER], totals[MESSAGES_UNTRACKED], totals[TICKETS_UNTRACKED])
    )
    for name in MODEL_OUTPUTS:
        out[name] = state.models.get(name)
    return out
