"""Prequential figures as insights: ``metrics_{model}``, published by the scoring tick.

Every ``models_metrics_interval_s`` (``0``: never) the scoring agent publishes, for each
model set it owns and each monitored model (``sentiment``, ``intent``, ``churn``,
``reco``; ``segment`` and ``anomaly`` on their error streams) that saw new examples
since its last report, one insight:

- ``model``: ``metrics_{model}`` (named like ``drift_*``, so the sink's KPI views of
  ``sentiment*`` and ``churn*`` do not count it);
- ``customer_id``: ``#models`` (``#`` is outside the event id alphabet, so it never
  names a customer); ``event_id``: ``models:{partition}:{examples}:{watermark}``
  (epoch seconds), hence ``insight_id`` ``{event_id}:metrics_{model}``: the same
  figures republished after a restart keep their id, and fresh models (a refused
  checkpoint) that reach the same count later do not reuse it;
- ``prediction``: the headline figure (``accuracy`` for the text models and reco,
  ``roc_auc`` for churn, ``mean_error`` for segment and anomaly); ``confidence``:
  none; ``model_version``: the model's;
- ``explanation``: ``partition``, ``examples``, ``drifts`` (examples at which ADWIN
  flagged a change), ``overall`` (every metric) and ``by_segment`` (channel, plan,
  ``rating``, ``feedback``, recommendation source, assigned segment: the same metrics
  per segment, a bias audit);
- ``occurred_at``: the partition's event-time watermark; ``produced_at``: now.

The bias audit: beside each report, the headline figure's spread over the segments with
at least ``RAPPORT_MODELS_BIAS_MIN_EXAMPLES`` examples (:func:`disparity`: worst and best
segment, min-over-max ratio, gap) is exported as ``rapport_model_disparity_ratio`` and,
when the ratio is below ``RAPPORT_MODELS_BIAS_MIN_RATIO``, published as a ``bias_{model}``
alert insight (same event id as the report; ``prediction``: the ratio).

>>> from datetime import UTC, datetime
>>> from agents.scoring.state import ModelConfig, PartitionModels
>>> models = PartitionModels(3, ModelConfig())
>>> _ = models.advance(datetime(2030, 1, 1, tzinfo=UTC))
>>> _ = models.monitors["intent"].update("refund", "refund", segment="chat")
>>> reporter = MetricsReporter(60.0, started=0.0)
>>> t = datetime(2030, 1, 1, tzinfo=UTC)
>>> reporter.due(30.0, [models], t), len(reporter.due(60.0, [models], t))
([], 1)
>>> found = reporter.due(120.0, [models], t)  # nothing new since: nothing published
>>> _ = models.monitors["intent"].update("refund", "card", segment="email")
>>> [(i.insight_id, i.prediction) for i in reporter.due(180.0, [models], t)]
[('models:3:2:1893456000:metrics_intent', 0.5)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from agents.scoring import metrics as sm
from agents.scoring.state import PartitionModels
from online_models.monitor import Monitor
from schemas.published import Insight

PREFIX: Final = "metrics_"
BIAS: Final = "bias_"
SUBJECT: Final = "#models"
"""The ``customer_id`` of a metrics insight (no customer id can contain ``#``)."""
HEADLINE: Final = {"label": "accuracy", "probability": "roc_auc", "error": "mean_error"}


def _figures(values: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in values.items() if isinstance(v, int | float)}


def metrics_insight(models: PartitionModels, name: str, monitor: Monitor, now: datetime) -> Insight:
    """The ``metrics_{name}`` insight of one partition's monitor (module docstring)."""
    report = monitor.report()
    overall = _figures({k: v for k, v in report.items() if k != "n"})
    at = models.watermark or now
    event_id = f"models:{models.partition}:{monitor.n}:{int(at.timestamp())}"
    model = f"{PREFIX}{name}"
    return Insight(
        insight_id=f"{event_id}:{model}",
        customer_id=SUBJECT,
        event_id=event_id,
        model=model,
        model_version=models.models[name].version,
        prediction=overall.get(HEADLINE[monitor.kind], 0.0),
        confidence=None,
        explanation={
            "partition": models.partition,
            "examples": monitor.n,
            "drifts": list(report["drifts"]),
            "overall": overall,
            "by_segment": {seg: _figures(v) for seg, v in report["by_segment"].items()},
        },
        occurred_at=at,
        produced_at=now,
    )


@dataclass(frozen=True)
class BiasRule:
    """When a model's figures across segments (channel for the text models, plan for
    churn, source for reco) are too far apart: the worst segment's headline figure below
    ``min_ratio`` of the best's, each with at least ``min_examples`` examples."""

    min_ratio: float = 0.8
    min_examples: int = 50


def disparity(monitor: Monitor, rule: BiasRule) -> dict[str, Any] | None:
    """The spread of the headline figure over the monitor's segments (those with enough
    examples; ``None`` with fewer than two, or for the unsupervised error streams).

    >>> m = Monitor("label")
    >>> for i in range(100):
    ...     _ = m.update("a", "a", segment="chat")
    ...     _ = m.update("a", "a" if i % 2 else "b", segment="email")
    >>> found = disparity(m, BiasRule(0.8, 50))
    >>> found["worst"], found["best"], found["ratio"], found["gap"], found["alert"]
    ('email', 'chat', 0.5, 0.5, True)
    """
    if monitor.kind == "error":
        return None
    metric = HEADLINE[monitor.kind]
    report = monitor.report()["by_segment"]
    figures = {
        seg: float(values[metric])
        for seg, values in report.items()
        if values.get("n", 0) >= rule.min_examples and metric in values
    }
    if len(figures) < 2:
        return None
    worst, best = min(figures, key=figures.__getitem__), max(figures, key=figures.__getitem__)
    top = figures[best]
    ratio = 1.0 if top <= 0 else figures[worst] / top
    return {
        "metric": metric,
        "worst": worst,
        "best": best,
        "ratio": round(ratio, 6),
        "gap": round(top - figures[worst], 6),
        "threshold": rule.min_ratio,
        "alert": ratio < rule.min_ratio,
        "by_segment": {seg: round(v, 6) for seg, v in sorted(figures.items())},
    }


def bias_insight(metrics: Insight, name: str, found: dict[str, Any]) -> Insight:
    """The ``bias_{name}`` alert beside a ``metrics_{name}`` insight (same event id)."""
    model = f"{BIAS}{name}"
    return metrics.model_copy(
        update={
            "insight_id": f"{metrics.event_id}:{model}",
            "model": model,
            "prediction": found["ratio"],
            "explanation": {"partition": metrics.explanation["partition"], **found},
        }
    )


class MetricsReporter:
    """When metrics insights are due, and which monitors have new examples."""

    def __init__(self, interval_s: float, *, started: float, bias: BiasRule | None = None) -> None:
        self.interval_s = interval_s
        self.bias = bias or BiasRule()
        self.last = started
        self.reported: dict[tuple[int, str], int] = {}
        """``(partition, model)`` -> examples at its last report."""

    def due(self, clock: float, sets: Iterable[PartitionModels], now: datetime) -> list[Insight]:
        """The insights to publish at ``clock`` (monotonic seconds); ``[]`` if not due."""
        if self.interval_s <= 0 or clock - self.last < self.interval_s:
            return []
        self.last = clock
        out: list[Insight] = []
        for models in sets:
            for name, monitor in models.monitors.items():
                key = (models.partition, name)
                if monitor.n == 0 or self.reported.get(key) == monitor.n:
                    continue
                self.reported[key] = monitor.n
                found = metrics_insight(models, name, monitor, now)
                out.append(found)
                spread = disparity(monitor, self.bias)
                if spread is not None:
                    sm.DISPARITY.labels(name, str(models.partition)).set(spread["ratio"])
                    if spread["alert"]:
                        out.append(bias_insight(found, name, spread))
        return out

    def forget(self, partitions: Iterable[int]) -> None:
        """Revoked partitions: their next owner reports them."""
        gone = set(partitions)
        self.reported = {k: n for k, n in self.reported.items() if k[0] not in gone}
