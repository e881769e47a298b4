"""The customer models in the scoring stage: churn, segment, anomaly and reco.

On every event that changes features (``BEHAVIOUR_EVENTS``), from the customer's
vector read once:

- **churn**: risk from ``BEHAVIOUR`` + the latest subscription attributes; the
  prediction's inputs are held in the delayed-label join (one open hold per
  customer; none on a cancellation). A ``subscription`` ``cancelled`` closes the hold
  as churned, ``retained`` as retained; the horizon passing closes it as retained
  when the partition's event-time watermark minus the allowed lateness is past the
  deadline (so an outcome at the deadline, slightly out of order, still counts).
  Each closed hold is a prequential example (predict on the held inputs, monitor,
  learn) segmented by plan (``Contract``). ``churn_risk`` in the feature slot is the
  last published risk. Bad input, counted and skipped: an outcome repeating the
  customer's last one with no other subscription action between (``cancelled`` twice:
  ``rapport_scoring_bad_input_total{reason="duplicate_outcome"}``, nothing learnt); an
  outcome with no open hold is counted ``unmatched`` (``rapport_scoring_labels_total``);
  a customer without a feature vector is not scored (``missing_features``);
- **segment** and **anomaly**: predict then learn on ``BEHAVIOUR`` (no label); the
  anomaly insight carries ``explanation["alert"]`` (score at or above the running
  ``anomaly_quantile`` of the partition's scores) and ``threshold``. Having no labels,
  each is monitored on an error stream (prequential, before it learns; segment = the
  customer's assigned segment): the distance to the segment's centre as ``d / (1 + d)``
  and the anomaly score, so ADWIN flags behaviour drifting away from what they learnt;
- publication by :class:`agents.scoring.publish.PublishRule`; a redelivered event the
  set already learnt from publishes all three again (same ids) and learns nothing,
  unless its insights were acknowledged before the set's checkpoint (``settled``, see
  ``agents.scoring.scorer``): then its behaviour step is skipped.

**reco** learns from order items, cart adds/checkouts and product page views, and
publishes the customer's top-k after each order and cart add/checkout.
"""

from __future__ import annotations

from typing import Any, Final

from agents.scoring import metrics as sm
from agents.scoring.inputs import behaviour, churn_inputs, subscription_fields
from agents.scoring.publish import PublishRule, insight
from agents.scoring.turn import Turn
from online_models.base import OnlineModel, Prediction
from online_models.delayed import Labelled
from schemas.events import CartChange, Event, Order, PageView, Subscription

BEHAVIOUR_EVENTS: Final = frozenset(
    {"message", "ticket", "page_view", "cart", "order", "rating", "subscription"}
)
RECO_KINDS: Final = {"order": "order", "cart": "cart", "page_view": "view"}
BEHAVIOUR_MODELS: Final = ("churn", "segment", "anomaly")
OUTCOMES: Final = frozenset({"cancelled", "retained"})


def subscription(turn: Turn, event: Subscription) -> None:
    """Keep the subscription attributes; close the churn hold on an outcome."""
    if not turn.learn:
        return
    models, cid = turn.models, event.customer_id
    merged = {**(models.subscriptions.get(cid) or {}), **subscription_fields(event)}
    models.subscriptions.put(cid, merged)
    if event.action not in OUTCOMES:
        models.outcomes.pop(cid)
        return
    if models.outcomes.get(cid) == event.action:
        sm.BAD_INPUT.labels("churn", "duplicate_outcome").inc()
        return
    models.outcomes.put(cid, event.action)
    cancelled = event.action == "cancelled"
    closed = models.join.outcome(
        cid, cancelled=cancelled, at=event.occurred_at, offset=models.offset
    )
    if closed is None:
        sm.LABELS.labels("churn", "unmatched").inc()
    else:
        learn_churn(turn, closed)


def learn_churn(turn: Turn, closed: Labelled) -> None:
    """One closed churn hold: predict on its inputs, monitor, learn."""
    model = turn.models.churn
    p = model.proba(closed.features)
    if model.learn_one(closed.features, closed.churned):
        sm.LABELS.labels("churn", "learnt").inc()
        segment = str(closed.features.get("Contract") or "none")
        turn.monitor("churn", closed.churned, p, segment)
    else:
        sm.LABELS.labels("churn", "refused").inc()


def behaviour_models(turn: Turn, rule: PublishRule) -> None:
    """Churn, segment and anomaly on the customer's fresh vector (module docstring)."""
    vector = turn.vector()
    if vector is None:
        for name in BEHAVIOUR_MODELS:
            sm.BAD_INPUT.labels(name, "missing_features").inc()
        return
    x = behaviour(vector)
    models, cid = turn.models, turn.event.customer_id
    last = models.last.get(cid) if turn.learn else None
    if turn.learn and last is None:
        last = models.last.put(cid, {})
    _churn(turn, rule, churn_inputs(x, models.subscriptions.get(cid)), last)
    cluster = "none"
    for name in ("segment", "anomaly"):
        model = models.models[name]
        found = model.predict_one(x)
        if found.value is None:
            sm.ABSTAINED.labels(name).inc()
        else:
            alert = bool(found.explanation.get("alert"))
            if last is None or rule.due(last, name, found.value, alert=alert):
                turn.publish(insight(turn.event, name, model.version, found, turn.now))
            if name == "segment":
                cluster = str(found.value)
            if turn.learn:
                turn.monitor(name, 0.0, _error(name, found), segment=cluster)
        if turn.learn:
            model.learn_one(x)


def _error(name: str, found: Prediction) -> float:
    """The unsupervised error stream: ``d / (1 + d)`` of the distance to the segment's
    centre, or the anomaly score (both in [0, 1])."""
    if name == "segment":
        distance = float(found.explanation.get("distance", 0.0))
        return distance / (1.0 + distance)
    return float(found.value) if isinstance(found.value, int | float) else 0.0


def _churn(
    turn: Turn, rule: PublishRule, x: dict[str, Any], last: dict[str, list[Any]] | None
) -> None:
    model = turn.models.churn
    event = turn.event
    if turn.learn and not (isinstance(event, Subscription) and event.action == "cancelled"):
        turn.models.join.hold(event.customer_id, x, event.occurred_at)
    p = round(model.proba(x), 6)
    if last is not None and not rule.due(last, "churn", p):
        return
    found = model.predict_one(x)
    turn.publish(insight(event, "churn", model.version, found, turn.now))
    if isinstance(found.value, float):
        turn.outputs["churn_risk"] = found.value


def reco(turn: Turn, event: Event) -> None:
    """Learn from product interactions; publish the top-k on orders and cart adds."""
    reco_learn(turn, event)
    if publishes_reco(event):
        reco_publish(turn)


def publishes_reco(event: Event) -> bool:
    """Orders and cart adds/checkouts publish the customer's top-k."""
    kind = RECO_KINDS.get(event.type)
    return kind in ("order", "cart") and not (
        isinstance(event, CartChange) and event.action == "remove"
    )


def reco_learn(turn: Turn, event: Event) -> None:
    """Learn from the event's products (an order is first scored against the top-k)."""
    kind = RECO_KINDS.get(event.type)
    if (
        kind is None
        or not turn.learn
        or (isinstance(event, CartChange) and event.action == "remove")
    ):
        return
    model = turn.models.models["reco"]
    cid = event.customer_id
    products = _products(event)
    if kind == "order" and products:
        _monitor_hits(turn, model, cid, products)
    for product in products:
        model.learn_one({"customer_id": cid, "product_id": product, "kind": kind})


def reco_publish(turn: Turn) -> None:
    """The customer's top-k, as an insight of ``turn.event``."""
    model = turn.models.models["reco"]
    found = model.predict_one({"customer_id": turn.event.customer_id})
    if found.value is None:
        sm.ABSTAINED.labels("reco").inc()
        return
    turn.publish(insight(turn.event, "reco", model.version, found, turn.now))


def _monitor_hits(turn: Turn, model: OnlineModel, customer_id: str, bought: list[str]) -> None:
    """The reco error stream: was an ordered product in the top-k before the order?

    Prequential like the labelled models (predict, then learn): ``hit`` or ``miss`` into
    the ``reco`` monitor (accuracy = hit rate at k, ADWIN on the misses).
    """
    before = model.predict_one({"customer_id": customer_id})
    if before.value is None:
        return
    top = set(before.explanation.get("items", ()))
    outcome = "hit" if top.intersection(bought) else "miss"
    turn.monitor("reco", "hit", outcome, segment=str(before.explanation.get("source", "")))


def _products(event: Event) -> list[str]:
    if isinstance(event, Order):
        return [item.product_id for item in event.items]
    if isinstance(event, CartChange | PageView) and event.product_id:
        return [event.product_id]
    return []
