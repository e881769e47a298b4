"""Insights from predictions, and the rule that keeps their volume sane.

Every insight's id is ``f"{event_id}:{model}"``: a redelivered event gives the same
id, so ClickHouse's ReplacingMergeTree (and any consumer keyed by id) collapses it.
``occurred_at`` is the event's time, ``produced_at`` the wall clock.

**What is published, per event**

- ``sentiment`` and ``intent``: one insight each per inbound message, always. A model
  with no label learnt yet abstains: the insight says ``prediction="unknown"``,
  ``confidence=None`` and ``explanation={"abstained": True, "reason": ...}``;
- ``reco``: one per order and per cart add/checkout (top-k product ids in
  ``explanation["items"]``), unless no item was ever learnt;
- ``churn``, ``segment``, ``anomaly`` (on every event that changes features, see
  ``agents.scoring.scorer``): by :class:`PublishRule`; an abstaining model publishes nothing;
- ``drift_{model}`` (e.g. ``drift_intent``): when ADWIN flags the model's error
  stream, on the label event that revealed it. Named ``drift_*`` rather than
  ``*_drift`` so the sink's KPI views (``sentiment*``, ``churn*``) do not count it.

>>> rule = PublishRule(every=3, churn_min_change=0.1)
>>> last: dict[str, list[object]] = {}
>>> [rule.due(last, "churn", p) for p in (0.2, 0.25, 0.22, 0.21, 0.5, 0.5)]
[True, False, False, True, True, False]
>>> [rule.due(last, "segment", s) for s in (1, 1, 2)]
[True, False, True]
>>> rule.due(last, "anomaly", 0.1), rule.due(last, "anomaly", 0.1, alert=True)
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from online_models.base import Prediction
from schemas.events import Envelope
from schemas.published import Insight

UNKNOWN: Final = "unknown"
"""The prediction of an abstaining message model."""
DRIFT_PREFIX: Final = "drift_"


class PublishRule:
    """When a churn, segment or anomaly insight is due for a customer.

    Per customer and model: the first value is published; then one is published when
    ``every`` events have passed since the last one, or at once when the value moved:
    churn risk by at least ``churn_min_change`` (absolute), a different segment, or an
    anomaly alert. ``last`` (the customer's ``{model: [value, events since]}``) is
    updated in place.
    """

    def __init__(self, every: int, churn_min_change: float) -> None:
        self.every = every
        self.churn_min_change = churn_min_change

    def due(
        self, last: dict[str, list[Any]], model: str, value: Any, *, alert: bool = False
    ) -> bool:
        entry = last.get(model)
        if (
            entry is None
            or alert
            or entry[1] + 1 >= self.every
            or self._moved(model, entry[0], value)
        ):
            last[model] = [value, 0]
            return True
        entry[1] += 1
        return False

    def _moved(self, model: str, before: Any, value: Any) -> bool:
        if model == "churn":
            return abs(float(value) - float(before)) >= self.churn_min_change
        return bool(model == "segment" and value != before)


def _confidence(value: float | None) -> float | None:
    return None if value is None else min(1.0, max(0.0, float(value)))


def insight(
    event: Envelope,
    model: str,
    version: int,
    found: Prediction,
    now: datetime,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Insight:
    """The insight of one model's prediction on one event (abstentions: ``unknown``)."""
    explanation = dict(found.explanation)
    if extra:
        explanation.update(extra)
    value = found.value
    if value is None:
        value = UNKNOWN
        explanation["abstained"] = True
    return Insight(
        insight_id=f"{event.event_id}:{model}",
        customer_id=event.customer_id,
        event_id=event.event_id,
        model=model,
        model_version=version,
        prediction=value,
        confidence=_confidence(found.confidence),
        explanation=explanation,
        occurred_at=event.occurred_at,
        produced_at=now,
    )


def drift_insight(
    event: Envelope, model: str, version: int, report: Mapping[str, Any], now: datetime
) -> Insight:
    """The insight announcing a drift of ``model`` (figures from its monitor)."""
    figures = {k: round(float(v), 6) for k, v in report.items() if isinstance(v, float)}
    found = Prediction("drift", None, {"model": model, "examples": report.get("n"), **figures})
    return insight(event, f"{DRIFT_PREFIX}{model}", version, found, now)
