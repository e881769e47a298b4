"""Batch recomputation of every customer's features from the full list of its events.

The reference the streaming state is checked against (tests and audits). It
keeps every event and evaluates the definitions of ``features.definitions``
directly: windows by filtering event times at the final watermark, and, for what
the definitions state in arrival order (late events, tickets, replies, carts, the
caps, erasure), one walk over the customer's events in the order the worker
processed them (the ``events`` topic order). The walk holds tickets and
conversations as the definitions do (a settled one leaves, making room under the
caps), re-checked at every step. No buckets, no encoding: none of the state's
machinery is shared.

>>> from schemas.events import parse_event
>>> def ev(i, t, extra):
...     return parse_event(f'{{"event_id": "e{i}", "customer_id": "c", "source": "s",'
...                        f' "occurred_at": "2024-01-01T{t}Z", {extra}}}')
>>> msg = '"type": "message", "channel": "chat", "conversation_id": "k", "text": "hi", '
>>> out = recompute([ev(1, "10:00:00", msg + '"direction": "inbound"'),
...                  ev(2, "10:02:00", msg + '"direction": "outbound"'),
...                  ev(3, "10:05:00", msg + '"direction": "inbound"')], Rules())
>>> c = out["c"]
>>> c["messages_chat_inbound_1h"], c["unreplied_inbound"], c["first_response_s_mean"]
(2, 1, 120.0)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from features.definitions import (
    CHANNELS,
    DIRECTIONS,
    MODEL_OUTPUTS,
    N_METRICS,
    ORDER_CENTS,
    ORDERS,
    ORDERS_OTHER,
    PAGE_VIEWS,
    RATING_SUM,
    RATINGS,
    Rules,
    Vector,
)
from features.vector import iso, order_features, ratio, untracked, windowed
from features.windows import WINDOWS, seconds
from schemas.events import Event

RANK = {"opened": 0, "updated": 1, "closed": 2}


def recompute(events: Iterable[Event], rules: Rules) -> dict[str, Vector]:
    """Features per customer from events in processing order; repeated event ids are
    ignored (first copy kept). Customers without a state (erased, nothing after) are
    absent."""
    seen: set[str] = set()
    per_customer: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            per_customer[event.customer_id].append(event)
    out = {}
    for customer, evs in per_customer.items():
        walk = Walk(rules)
        erased_at: int | None = None
        for event in evs:
            t = seconds(event.occurred_at)
            if event.type == "erasure":
                erased_at = t if erased_at is None else max(erased_at, t)
                walk = Walk(rules)
            elif erased_at is None or t > erased_at:
                walk.step(event, t)
        if walk.applied:
            out[customer] = walk.features()
    return out


def metrics_of(event: Event, base_currency: str = "USD") -> list[tuple[int, int]]:
    """``(metric code, amount)`` pairs of one event (the windowed counters); an order's
    amount counts only in the base currency, other orders are counted apart."""
    if event.type == "message":
        code = CHANNELS.index(event.channel) * 2 + DIRECTIONS.index(event.direction)
        return [(code, 1)]
    if event.type == "order":
        if event.currency != base_currency:
            return [(ORDERS, 1), (ORDERS_OTHER, 1)]
        return [(ORDERS, 1), (ORDER_CENTS, round(event.amount * 100))]
    if event.type == "page_view":
        return [(PAGE_VIEWS, 1)]
    if event.type == "rating":
        return [(RATINGS, 1), (RATING_SUM, event.score)]
    return []


class Walk:
    """One customer's events since its last erasure, walked in processing order."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.wm: int | None = None
        self.applied: list[tuple[int, Event]] = []
        self.timely: list[tuple[int, Event]] = []
        self.tickets: dict[str, tuple[int, int]] = {}
        self.convs: dict[str, tuple[int | None, list[int]]] = {}
        self.carts: dict[str, tuple[int, int]] = {}
        self.responses = self.response_s = self.abandoned = self.converted = 0
        self.untracked_messages = self.untracked_tickets = 0

    def step(self, event: Event, t: int) -> None:
        rules = self.rules
        self.applied.append((t, event))
        if self.wm is not None and t < self.wm - rules.lateness_s:
            return
        wm = self.wm = t if self.wm is None else max(self.wm, t)
        for cart, (_, last) in list(self.carts.items()):
            if last + rules.cart_abandon_s + rules.lateness_s < wm:
                del self.carts[cart]
                self.abandoned += 1
        self._settle(wm)
        self.timely.append((t, event))
        if event.type == "message":
            self._message(event.conversation_id, event.direction, t, wm)
        elif event.type == "ticket":
            self._ticket(event.ticket_id, t, RANK[event.action])
        elif event.type == "cart":
            first, last = self.carts.get(event.cart_id, (t, t))
            self.carts[event.cart_id] = (min(first, t), max(last, t))
        elif event.type == "order":
            for cart, (first, last) in list(self.carts.items()):
                if first <= t <= last + rules.cart_abandon_s:
                    del self.carts[cart]
                    self.converted += 1

    def _settle(self, wm: int) -> None:
        """Let go of what no event can change any more: closed tickets older than
        ``W - L``, messages and tickets older than ``W - stale_s``, conversations with
        nothing pending whose latest reply is older than ``W - L``."""
        settled, stale = wm - self.rules.lateness_s, wm - self.rules.stale_s
        self.tickets = {
            k: (t, rank)
            for k, (t, rank) in self.tickets.items()
            if t >= stale and (rank != RANK["closed"] or t >= settled)
        }
        convs = {}
        for k, (out, pending) in self.convs.items():
            kept = [i for i in pending if i >= stale]
            if kept or (out is not None and out >= settled):
                convs[k] = (out, kept)
        self.convs = convs

    def _ticket(self, ticket: str, t: int, rank: int) -> None:
        latest = self.tickets.get(ticket)
        if latest is None and len(self.tickets) >= self.rules.max_tickets:
            self.untracked_tickets += 1
        elif latest is None or (t, rank) > latest:
            self.tickets[ticket] = (t, rank)

    def _message(self, conversation: str, direction: str, t: int, wm: int) -> None:
        rules = self.rules
        out, pending = self.convs.get(conversation, (None, []))
        waits = direction == "inbound" and (out is None or t > out)
        new = conversation not in self.convs
        if (new and len(self.convs) >= rules.max_conversations) or (
            waits and sum(len(p) for _, p in self.convs.values()) >= rules.max_pending
        ):
            self.untracked_messages += 1
            return
        if direction == "inbound":
            if waits:
                self.convs[conversation] = (out, [*pending, t])
            return
        answered = [i for i in pending if wm - self.rules.stale_s <= i <= t]
        if answered:
            self.responses += 1
            self.response_s += t - min(answered)
        latest = t if out is None else max(out, t)
        self.convs[conversation] = (latest, [i for i in pending if i > t])

    def features(self) -> Vector:
        assert self.wm is not None
        wm, base = self.wm, self.rules.base_currency
        sums = {}
        for name, window in WINDOWS.items():
            acc = [0] * N_METRICS
            for t, event in self.timely:
                if window.contains(t, watermark=wm):
                    for code, amount in metrics_of(event, base):
                        acc[code] += amount
            sums[name] = acc
        total = [0] * N_METRICS
        for _, event in self.applied:
            for code, amount in metrics_of(event, base):
                total[code] += amount
        sums["all"] = total
        out = windowed(sums)
        orders = [t for t, event in self.applied if event.type == "order"]
        stale = wm - self.rules.stale_s
        out.update(
            {
                "events": len(self.applied),
                "late_events": len(self.applied) - len(self.timely),
                "first_seen": iso(min(t for t, _ in self.applied)),
                "last_seen": iso(wm),
                "open_tickets": sum(
                    1 for t, rank in self.tickets.values() if rank != RANK["closed"] and t >= stale
                ),
                "unreplied_inbound": sum(
                    1 for _, pending in self.convs.values() for i in pending if i >= stale
                ),
                "first_responses": self.responses,
                "first_response_s_mean": ratio(self.response_s, self.responses),
            }
        )
        out.update(order_features(wm, max(orders, default=None), total[ORDERS], total[ORDER_CENTS]))
        out.update(
            {
                "carts_open": len(self.carts),
                "carts_abandoned": self.abandoned,
                "carts_converted": self.converted,
                "cart_abandonment_rate": ratio(self.abandoned, self.abandoned + self.converted),
            }
        )
        out.update(untracked(total[ORDERS_OTHER], self.untracked_messages, self.untracked_tickets))
        out.update(dict.fromkeys(MODEL_OUTPUTS))
        return out
