"""What the models read: feature subsets, subscription attributes and weak labels.

Segments and anomaly scores read ``BEHAVIOUR``, a fixed subset of the customer's
feature vector (``features.vector``): counts and amounts that describe activity,
never ids or timestamps. Churn reads the same subset plus the customer's latest
subscription (Telco's columns are the reference: ``tenure`` and ``MonthlyCharges``
come from the typed fields, ``Contract`` from ``plan``, the rest from
``attributes``, e.g. ``TotalCharges``, ``InternetService``, ``PaymentMethod``).

Rating rule (a weak sentiment label for the rating's comment): 1-2 ``negative``,
3 ``neutral``, 4-5 ``positive``.

>>> rating_label(1), rating_label(3), rating_label(5)
('negative', 'neutral', 'positive')
>>> polarity("positive", 0.8), polarity("negative", 0.5), polarity("unknown", 1.0)
(0.8, -0.5, None)
>>> trend(None, 1.0), trend(0.5, -1.0)
(1.0, 0.05)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from online_models.churn import TELCO_NUMERIC
from schemas.events import Subscription

BEHAVIOUR: Final = (
    "events",
    "messages_inbound_7d",
    "messages_outbound_7d",
    "messages_inbound_30d",
    "orders_30d",
    "order_amount_30d",
    "orders_all",
    "order_amount_all",
    "page_views_7d",
    "page_views_30d",
    "ratings_30d",
    "rating_mean_30d",
    "open_tickets",
    "unreplied_inbound",
    "carts_open",
    "carts_abandoned",
    "days_since_last_order",
)
"""The numeric features segments, anomaly scores and churn risk read."""
CHURN_NUMERIC: Final = (*TELCO_NUMERIC, *BEHAVIOUR)
TREND_ALPHA: Final = 0.3
"""``sentiment_trend`` is an exponential moving average of message polarity (weight of
the latest message)."""
_POLARITY: Final = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


def behaviour(vector: Mapping[str, Any]) -> dict[str, Any]:
    """The ``BEHAVIOUR`` features of a customer's vector (missing ones are ``None``)."""
    return {name: vector.get(name) for name in BEHAVIOUR}


def subscription_fields(event: Subscription) -> dict[str, Any]:
    """The churn inputs a subscription event carries (typed fields win over attributes)."""
    fields: dict[str, Any] = dict(event.attributes)
    if event.plan is not None:
        fields["Contract"] = event.plan
    if event.monthly_charges is not None:
        fields["MonthlyCharges"] = event.monthly_charges
    if event.tenure_months is not None:
        fields["tenure"] = event.tenure_months
    return fields


def churn_inputs(
    features: Mapping[str, Any], subscription: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Behaviour features plus the latest subscription attributes."""
    return {**features, **subscription} if subscription else dict(features)


def rating_label(score: int) -> str:
    """The weak sentiment label of a 1-5 rating (module docstring)."""
    return "negative" if score <= 2 else "neutral" if score == 3 else "positive"


def polarity(label: object, confidence: float | None) -> float | None:
    """A sentiment as a number in [-1, 1] (label sign x confidence); ``None`` if unknown."""
    sign = _POLARITY.get(label) if isinstance(label, str) else None
    if sign is None or confidence is None:
        return None
    return sign * confidence


def trend(previous: float | None, value: float) -> float:
    """The moving average after one more message (the first message sets it)."""
    if previous is None:
        return round(value, 6)
    return round((1 - TREND_ALPHA) * previous + TREND_ALPHA * value, 6)
