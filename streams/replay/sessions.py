"""Session builders for the synthetic source: one customer visit as timed events.

A session is a browse (page views, maybe a cart and an order, or an abandoned
cart), a support case (ticket, inbound messages, agent replies, closing, maybe a
rating) or a product review (a rating). Builders only draw from the seeded
``random.Random`` they are given, so a seed fixes every session.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from random import Random
from typing import Final

from schemas.events import SCHEMA_VERSION
from streams.replay.base import AGENTS, Event

SOURCE: Final = "synthetic"
SHOP: Final = "https://shop.example.com"
PAGES: Final = ("/", "/search?q=shoes", "/search?q=gift", "/c/new", "/c/sale", "/account", "/help")
CHANNELS: Final = ("chat", "email", "social", "phone")
PRIORITIES: Final = ("low", "normal", "high", "urgent")
PRIORITY_WEIGHTS: Final = (0.2, 0.55, 0.2, 0.05)
SCORES: Final = (1, 2, 3, 4, 5)
SCORE_WEIGHTS: Final = (0.08, 0.07, 0.15, 0.3, 0.4)
SESSION_KINDS: Final = (0.75, 0.95)
"""Cumulative shares of browse and support sessions; the rest are product reviews."""

TOPICS: Final = (
    (
        "delivery",
        "Hi, order {ref} has still not arrived. Where is it?",
        "Sorry about the delay with {ref}: it is with the carrier and arrives within 2 days.",
    ),
    (
        "refund",
        "I returned {ref} two weeks ago and have not been refunded yet.",
        "Thanks for your patience: the refund for {ref} was issued today.",
    ),
    (
        "payment",
        "My card was charged twice for {ref}!!",
        "I can see the duplicate charge on {ref}; it has been reversed.",
    ),
    (
        "account",
        "I can't log in to my account, the reset link does not work.",
        "I have sent you a new reset link; it is valid for 24 hours.",
    ),
    (
        "product",
        "Is {ref} available in a larger size?",
        "Yes, {ref} comes in L and XL; both are in stock.",
    ),
)
CHECKING: Final = "Let me check that for you."
FOLLOW_UPS: Final = ("Thanks, but that did not help.", "Any update?", "Ok, thank you!")
COMMENTS: Final = {
    1: "Terrible service, nobody answered for days.",
    2: "Slow and unhelpful.",
    3: "It was ok.",
    4: "Good, quick answer.",
    5: "Excellent, thank you so much!",
}


def _said(text: str, agent: str | None = None) -> Event:
    """Message fields: inbound from the customer, or outbound from ``agent``."""
    if agent is None:
        return {"direction": "inbound", "text": text}
    return {"direction": "outbound", "text": text, "agent_id": agent}


class Zipf:
    """Draws ranks ``0..n-1`` with probability proportional to ``1 / (rank + 1) ** s``."""

    __slots__ = ("_cum", "_random", "_total")

    def __init__(self, n: int, s: float, rnd: Random) -> None:
        self._cum = list(accumulate(1.0 / k**s for k in range(1, n + 1)))
        self._total = self._cum[-1]
        self._cum[-1] = float("inf")  # so rounding can never draw past the last rank
        self._random = rnd.random

    def draw(self) -> int:
        return bisect(self._cum, self._random() * self._total)


class Session:
    """The events of one session, each at a clock offset (seconds) from its start."""

    __slots__ = ("clock", "customer", "events", "number", "prefix")

    def __init__(self, number: int, customer: str) -> None:
        self.number = number
        self.customer = customer
        self.prefix = f"{SOURCE}-{number}-"
        self.clock = 0.0
        self.events: list[tuple[float, Event]] = []

    def add(self, gap_s: float, kind: str, fields: Event) -> None:
        """Append an event ``gap_s`` after the previous one (``occurred_at`` comes later)."""
        self.clock += gap_s
        events = self.events
        event: Event = {
            "type": kind,
            "event_id": f"{self.prefix}{len(events)}-{kind}",
            "customer_id": self.customer,
            "source": SOURCE,
            "schema_version": SCHEMA_VERSION,
            **fields,
        }
        events.append((self.clock, event))


class SessionBuilder:
    """Seeded sessions over Zipf-popular customers and products."""

    def __init__(self, rnd: Random, customers: Sequence[str], zipf_s: float, products: int) -> None:
        self.rnd = rnd
        self.customers = customers
        self.who = Zipf(len(customers), zipf_s, rnd)
        self.what = Zipf(products, 1.0, rnd)
        self.skus = [f"sku-{k:05d}" for k in range(products)]
        self.prices = [round(max(1.0, rnd.lognormvariate(3.0, 0.8)), 2) for _ in range(products)]

    def build(self, number: int) -> list[tuple[float, Event]]:
        """The events of session ``number``, offsets from its start, in time order."""
        session = Session(number, self.customers[self.who.draw()])
        kind = self.rnd.random()
        if kind < SESSION_KINDS[0]:
            self._browse(session)
        elif kind < SESSION_KINDS[1]:
            self._support(session)
        else:
            self._review(session)
        return session.events

    def _browse(self, s: Session) -> None:
        rnd = self.rnd
        sid, cart_id = f"syn-sess-{s.number}", f"syn-cart-{s.number}"
        cart: list[tuple[str, int, float]] = []
        for _ in range(rnd.randint(1, 8)):
            gap = rnd.expovariate(1 / 40.0)
            if rnd.random() >= 0.7:
                s.add(gap, "page_view", {"url": SHOP + rnd.choice(PAGES), "session_id": sid})
                continue
            k = self.what.draw()
            sku, price = self.skus[k], self.prices[k]
            view = {"url": f"{SHOP}/p/{sku}", "session_id": sid, "product_id": sku}
            s.add(gap, "page_view", view)
            if rnd.random() < 0.3:
                qty = 1 if rnd.random() < 0.8 else rnd.randint(2, 4)
                cart.append((sku, qty, price))
                add = {"action": "add", "product_id": sku, "quantity": qty, "unit_price": price}
                s.add(rnd.uniform(3, 30), "cart", {"cart_id": cart_id, **add})
        if len(cart) > 1 and rnd.random() < 0.2:
            sku, qty, _ = cart.pop(rnd.randrange(len(cart)))
            remove = {"action": "remove", "product_id": sku, "quantity": qty}
            s.add(rnd.uniform(5, 60), "cart", {"cart_id": cart_id, **remove})
        if cart and rnd.random() < 0.6:  # else the cart is abandoned
            self._checkout(s, cart_id, cart)

    def _checkout(self, s: Session, cart_id: str, cart: list[tuple[str, int, float]]) -> None:
        s.add(self.rnd.uniform(10, 120), "cart", {"cart_id": cart_id, "action": "checkout"})
        order: Event = {
            "order_id": f"syn-order-{s.number}",
            "items": [{"product_id": sku, "quantity": q, "unit_price": p} for sku, q, p in cart],
            "amount": round(sum(q * p for _, q, p in cart), 2),
            "currency": "USD",
        }
        s.add(self.rnd.uniform(1, 5), "order", order)

    def _support(self, s: Session) -> None:
        rnd = self.rnd
        ticket, conv = f"syn-ticket-{s.number}", f"syn-conv-{s.number}"
        channel, agent = rnd.choice(CHANNELS), rnd.choice(AGENTS)
        tag, asked, answer = rnd.choice(TOPICS)
        if tag == "product":
            ref = self.skus[self.what.draw()]
        else:
            ref = f"syn-order-{rnd.randrange(max(1, s.number))}"
        priority = rnd.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        opened = {"action": "opened", "priority": priority, "tags": [tag, channel]}
        s.add(0.0, "ticket", {"ticket_id": ticket, **opened})
        thread = {"channel": channel, "conversation_id": conv}
        s.add(rnd.uniform(1, 30), "message", {**thread, **_said(asked.format(ref=ref))})
        s.add(rnd.uniform(60, 1800), "message", {**thread, **_said(answer.format(ref=ref), agent)})
        if rnd.random() < 0.4:
            s.add(rnd.uniform(60, 900), "message", {**thread, **_said(rnd.choice(FOLLOW_UPS))})
            s.add(rnd.uniform(60, 1800), "message", {**thread, **_said(CHECKING, agent)})
            updated = {"action": "updated", "priority": "high", "tags": [tag, "follow-up"]}
            s.add(rnd.uniform(5, 60), "ticket", {"ticket_id": ticket, **updated})
        closed = {"action": "closed", "priority": priority, "tags": [tag]}
        s.add(rnd.uniform(60, 3600), "ticket", {"ticket_id": ticket, **closed})
        if rnd.random() < 0.6:
            self._rate(s, conv)

    def _rate(self, s: Session, conversation: str | None) -> None:
        score = self.rnd.choices(SCORES, SCORE_WEIGHTS)[0]
        fields: Event = {"score": score}
        if conversation is not None:
            fields["conversation_id"] = conversation
        if self.rnd.random() < 0.2:
            fields["comment"] = COMMENTS[score]
        s.add(self.rnd.uniform(30, 600), "rating", fields)

    def _review(self, s: Session) -> None:
        self._rate(s, None)
