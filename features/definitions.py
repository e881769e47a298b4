"""The customer features, declared: what each one counts and the rules that bound them.

Windowed counters (over 1 h, 24 h, 7 d, 30 d and all time, see ``features.windows``):

- ``messages_{channel}_{direction}_{w}``: messages by channel and direction, plus
  ``messages_inbound_{w}`` and ``messages_outbound_{w}`` (all channels);
- ``orders_{w}`` (every order, whatever its currency), ``order_amount_{w}`` (sum of
  the orders in the base currency ``Rules.base_currency``, in whole cents:
  ``round(amount * 100)`` per order) and ``order_mean_{w}`` (over those orders only).
  Amounts are never converted: an order in any other code (known or not) counts in
  ``orders_{w}`` and ``orders_other_currency``, never in an amount, a mean or the RFM
  monetary score;
- ``page_views_{w}``; ``ratings_{w}`` and ``rating_mean_{w}`` (satisfaction, 1-5).

Per-customer state features, all in event time relative to the watermark ``W``:

- ``open_tickets``: tickets whose latest event (by time, then opened < updated <
  closed) is not ``closed`` and is at most 30 days (``LONGEST_S``) before ``W``;
- ``unreplied_inbound``: inbound messages with no later outbound message in their
  conversation, at most 30 days old. Messages are matched in arrival order: an
  outbound message at ``o`` answers the pending inbound messages at ``<= o``; an
  inbound message not later than the conversation's latest outbound message
  arrives already answered;
- ``first_response_s_mean`` over ``first_responses``: each outbound message that
  answers pending inbound messages records ``o - (earliest of them)``;
- carts: a cart (``cart_id``) collects its events' times ``[first, last]``; an order
  at ``o`` with ``first <= o <= last + T`` converts every undecided cart that
  covers it; a cart still undecided when ``W > last + T + L`` is abandoned (no
  order can arrive in time any more). ``T`` is ``Rules.cart_abandon_s``, ``L`` the
  allowed lateness. Decided carts are forgotten (a reused id starts a new cart);
- ``days_since_last_order`` (``W`` minus the latest order time) and the RFM score;
- ``sentiment_trend`` and ``churn_risk``: the model-output slot, filled by the models.

Caps (a hot customer's state stays bounded): at most ``Rules.max_conversations``
conversations, ``Rules.max_pending`` pending inbound messages (all conversations) and
``Rules.max_tickets`` tickets are held at once, first come first held (an entry leaves
when pruned: settled or older than 30 days). A message that would need one more
(a new conversation, or one more pending message) is not tracked: it counts in the
windows but not in ``unreplied_inbound`` nor in response times, and counts in
``messages_untracked``; a ticket event likewise in ``ticket_events_untracked``.

Late events: an event earlier than ``W - L`` (``L`` = ``Rules.lateness_s``) when it
arrives is *late*: it counts in the all-time aggregates (``*_all``, ``events``,
``first_seen``, ``days_since_last_order``) and in ``late_events``, never in a window
nor in the state features. Erasure: see ``features.engine``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

from features.windows import LONGEST_S, WINDOW_NAMES, seconds
from schemas.events import CartChange, Event, Message, Order, PageView, Rating, Ticket

Feature = int | float | str | None
Vector = dict[str, Feature]

CHANNELS: Final = ("chat", "email", "social", "phone")
DIRECTIONS: Final = ("inbound", "outbound")

# windowed metric codes: 0-7 messages (channel * 2 + direction), then these
ORDERS: Final = 8
ORDER_CENTS: Final = 9
PAGE_VIEWS: Final = 10
RATINGS: Final = 11
RATING_SUM: Final = 12
ORDERS_OTHER: Final = 13
N_METRICS: Final = 14
# all-time only counters follow the metrics in the totals vector
EVENTS: Final = 14
LATE: Final = 15
RESPONSES: Final = 16
RESPONSE_S: Final = 17
CARTS_ABANDONED: Final = 18
CARTS_CONVERTED: Final = 19
MESSAGES_UNTRACKED: Final = 20
TICKETS_UNTRACKED: Final = 21
N_TOTALS: Final = 22

Kind = Literal["message", "ticket", "cart", "order", "other"]
TICKET_RANK: Final = {"opened": 0, "updated": 1, "closed": 2}
CLOSED: Final = 2
INBOUND: Final = 0

MODEL_OUTPUTS: Final = ("sentiment_trend", "churn_risk")
"""The slot the models fill (``FeatureEngine.set_model_outputs``); None until then."""

RECENCY_DAYS: Final = (7, 30, 90, 180)
"""RFM recency: 5 within 7 days of the last order, 4 within 30, ... 1 beyond 180."""
FREQUENCY_ORDERS: Final = (2, 3, 5, 10)
"""RFM frequency: orders (all time) of at least 2, 3, 5, 10 give 2, 3, 4, 5; one gives 1."""
MONETARY_CENTS: Final = (5_000, 20_000, 50_000, 100_000)
"""RFM monetary: an all-time base-currency amount of at least 50, 200, 500, 1000: 2..5."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The stated rules the stream and the batch recomputation both follow."""

    lateness_s: int = 3_600
    cart_abandon_s: int = 3_600
    stale_s: int = LONGEST_S
    base_currency: str = "USD"
    max_conversations: int = 32
    max_pending: int = 32
    max_tickets: int = 32


@dataclass(frozen=True, slots=True)
class Fact:
    """What one event contributes: its time, windowed metrics and the entity it touches.

    >>> from schemas.events import parse_event
    >>> fact = digest(parse_event(b'{"type": "order", "event_id": "e", "customer_id": "c",'
    ...     b' "occurred_at": "1970-01-01T00:01:00Z", "source": "s", "amount": 12.345,'
    ...     b' "currency": "USD", "order_id": "o1"}'))
    >>> fact.kind, fact.t, fact.metrics
    ('order', 60, ((8, 1), (9, 1234)))
    >>> digest(parse_event(b'{"type": "order", "event_id": "e", "customer_id": "c",'
    ...     b' "occurred_at": "1970-01-01T00:01:00Z", "source": "s", "amount": 12.345,'
    ...     b' "currency": "EUR", "order_id": "o1"}'), base_currency="USD").metrics
    ((8, 1), (13, 1))
    """

    kind: Kind
    t: int
    metrics: tuple[tuple[int, int], ...] = ()
    entity: int = 0
    action: int = 0


def entity_hash(entity_id: str) -> int:
    """A stable 48-bit hash of a ticket, conversation or cart id (kept in the state)."""
    return int.from_bytes(hashlib.blake2b(entity_id.encode(), digest_size=6).digest(), "big")


def cents(amount: float) -> int:
    """Money is summed in whole cents, rounded per order (half to even)."""
    return round(amount * 100)


def message_metric(channel: str, direction: str) -> int:
    return CHANNELS.index(channel) * 2 + DIRECTIONS.index(direction)


def order_metrics(amount: float, currency: str, base_currency: str) -> tuple[tuple[int, int], ...]:
    """An order counts in ``orders``; its amount only in the base currency."""
    if currency == base_currency:
        return ((ORDERS, 1), (ORDER_CENTS, cents(amount)))
    return ((ORDERS, 1), (ORDERS_OTHER, 1))


def digest(event: Event, base_currency: str = "USD") -> Fact:
    """The fact of one event (erasure requests are handled before, by the engine)."""
    t = seconds(event.occurred_at)
    match event:
        case Message():
            metric = message_metric(event.channel, event.direction)
            return Fact(
                "message",
                t,
                ((metric, 1),),
                entity_hash(event.conversation_id),
                DIRECTIONS.index(event.direction),
            )
        case Ticket():
            return Fact("ticket", t, (), entity_hash(event.ticket_id), TICKET_RANK[event.action])
        case CartChange():
            return Fact("cart", t, (), entity_hash(event.cart_id))
        case Order():
            return Fact("order", t, order_metrics(event.amount, event.currency, base_currency))
    return Fact("other", t, _other_metrics(event))


def _other_metrics(event: Event) -> tuple[tuple[int, int], ...]:
    if isinstance(event, PageView):
        return ((PAGE_VIEWS, 1),)
    if isinstance(event, Rating):
        return ((RATINGS, 1), (RATING_SUM, event.score))
    return ()


def rfm(since_last_order_s: int | None, orders: int, amount_cents: int) -> tuple[int, int, int]:
    """Recency, frequency and monetary scores (1-5); (0, 0, 0) without any order.

    >>> rfm(3 * 86_400, 4, 25_000), rfm(None, 0, 0)
    ((5, 3, 3), (0, 0, 0))
    """
    if since_last_order_s is None or orders == 0:
        return (0, 0, 0)
    recency = 5 - sum(since_last_order_s > d * 86_400 for d in RECENCY_DAYS)
    frequency = 1 + sum(orders >= n for n in FREQUENCY_ORDERS)
    monetary = 1 + sum(amount_cents >= c for c in MONETARY_CENTS)
    return (recency, frequency, monetary)


def windowed_names() -> list[str]:
    """Every windowed feature name, in a stable order."""
    names = []
    for window in WINDOW_NAMES:
        names += [f"messages_{c}_{d}_{window}" for c in CHANNELS for d in DIRECTIONS]
        names += [f"messages_inbound_{window}", f"messages_outbound_{window}"]
        names += [f"orders_{window}", f"order_amount_{window}", f"order_mean_{window}"]
        names += [f"page_views_{window}", f"ratings_{window}", f"rating_mean_{window}"]
    return names


SCALAR_NAMES: Final = (
    "events",
    "late_events",
    "first_seen",
    "last_seen",
    "open_tickets",
    "unreplied_inbound",
    "first_responses",
    "first_response_s_mean",
    "days_since_last_order",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_score",
    "carts_open",
    "carts_abandoned",
    "carts_converted",
    "cart_abandonment_rate",
    "orders_other_currency",
    "messages_untracked",
    "ticket_events_untracked",
    *MODEL_OUTPUTS,
)
FEATURE_NAMES: Final = (*windowed_names(), *SCALAR_NAMES)
"""Every feature a customer has, in the order they are served."""
FLOAT_FEATURES: Final = frozenset(
    name
    for name in FEATURE_NAMES
    if "mean" in name or name in {"days_since_last_order", "cart_abandonment_rate", *MODEL_OUTPUTS}
)
"""Features compared with a tolerance (ratios); every other one must match exactly."""
DEFAULTS: Final[dict[str, Feature]] = {
    name: None
    if name in FLOAT_FEATURES or name == "rfm_score"
    else 0.0
    if name.startswith("order_amount_")
    else ""
    if name in {"first_seen", "last_seen"}
    else 0
    for name in FEATURE_NAMES
}
"""Each feature's value before any event counts (0, 0.0, or null when undefined)."""
