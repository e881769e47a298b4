"""The inbound event contract: one envelope, one record per interaction type.

Compatibility rule (schema_version ``MAJOR.MINOR``): a consumer reads every minor
version of its major; fields it does not know are ignored (dropped on parse), so a
producer may add optional fields in a new minor version. A new major is a new
contract and is dead-lettered by older consumers. Numbers are strict: ``"5"`` is not 5.

>>> ev = parse_event(b'{"type": "rating", "event_id": "e1", "customer_id": "c1",'
...                  b' "occurred_at": "2026-01-02T03:04:05Z", "source": "web", "score": 4}')
>>> ev.type, ev.score, ev.occurred_at.isoformat()
('rating', 4, '2026-01-02T03:04:05+00:00')
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_MAJOR = 1
SCHEMA_VERSION = "1.0"

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@\-/+=]+$")]
Text = Annotated[str, Field(max_length=20_000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

Channel = Literal["chat", "email", "social", "phone"]
Direction = Literal["inbound", "outbound"]
TicketAction = Literal["opened", "updated", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
CartAction = Literal["add", "remove", "checkout"]
SubscriptionAction = Literal["started", "changed", "cancelled", "retained"]
LabelKind = Literal["intent", "sentiment"]
FeedbackVerdict = Literal["accepted", "edited", "rejected"]


class Envelope(BaseModel):
    """Fields every event carries; ``event_id`` is unique per event (the dedup key)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    event_id: Id
    customer_id: Id
    occurred_at: AwareDatetime
    source: Label
    schema_version: Annotated[str, Field(pattern=rf"^{SCHEMA_MAJOR}\.\d{{1,4}}$")] = SCHEMA_VERSION


class Message(Envelope):
    """A chat, email, social or phone-transcript message to or from the customer."""

    type: Literal["message"]
    channel: Channel
    direction: Direction
    conversation_id: Id
    text: Text
    agent_id: Id | None = None


class Ticket(Envelope):
    type: Literal["ticket"]
    ticket_id: Id
    action: TicketAction
    priority: Priority = "normal"
    tags: Annotated[list[Label], Field(max_length=50)] = []


class PageView(Envelope):
    type: Literal["page_view"]
    url: Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^[^\x00-\x20\x7f]+$")]
    session_id: Id | None = None
    product_id: Id | None = None


class CartChange(Envelope):
    type: Literal["cart"]
    cart_id: Id
    action: CartAction
    product_id: Id | None = None
    quantity: Annotated[int, Field(ge=0, le=10_000)] = 1
    unit_price: Money | None = None


class OrderItem(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    unit_price: Money


class Order(Envelope):
    type: Literal["order"]
    order_id: Id
    items: Annotated[list[OrderItem], Field(max_length=500)] = []
    amount: Money
    currency: Currency


class Rating(Envelope):
    """A satisfaction rating from 1 (worst) to 5 (best)."""

    type: Literal["rating"]
    score: Annotated[int, Field(ge=1, le=5)]
    comment: Text | None = None
    conversation_id: Id | None = None


class Subscription(Envelope):
    """Subscription lifecycle; ``cancelled`` is the churn outcome, ``retained`` its negative."""

    type: Literal["subscription"]
    action: SubscriptionAction
    plan: Label | None = None
    monthly_charges: Money | None = None
    tenure_months: Annotated[int, Field(ge=0, le=1200)] | None = None
    attributes: Annotated[dict[Label, Label], Field(max_length=64)] = {}


class AgentLabel(Envelope):
    """An intent or sentiment tag an agent put on a message (a late label for the models)."""

    type: Literal["label"]
    message_event_id: Id
    kind: LabelKind
    value: Label
    agent_id: Id | None = None


class DraftFeedback(Envelope):
    type: Literal["draft_feedback"]
    draft_id: Id
    verdict: FeedbackVerdict
    final_text: Text | None = None
    agent_id: Id | None = None
    intent: Label | None = None
    """The intent the draft was written for (the console sends it): what an ``accepted``
    verdict confirms; without it the keyword rules' intent of the message is used."""


class ErasureRequest(Envelope):
    """Forget the customer everywhere; later events older than this are refused."""

    type: Literal["erasure"]
    reason: Label | None = None


Event = Annotated[
    Message
    | Ticket
    | PageView
    | CartChange
    | Order
    | Rating
    | Subscription
    | AgentLabel
    | DraftFeedback
    | ErasureRequest,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[Envelope], ...] = (
    Message,
    Ticket,
    PageView,
    CartChange,
    Order,
    Rating,
    Subscription,
    AgentLabel,
    DraftFeedback,
    ErasureRequest,
)
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(raw: bytes | str) -> Event:
    """Validate one JSON event; raises ``pydantic.ValidationError`` naming the field path."""
    return EVENT_ADAPTER.validate_json(raw)
