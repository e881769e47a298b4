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
from datetime import datetime
from typing import Any, Final

from agents.scoring.state import PartitionModels
from online_models.monitor import Monitor
from schemas.published import Insight

PREFIX: Final = "metrics_"
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


class MetricsReporter:
    """When metrics insights are due, and which monitors have new examples."""

    def __init__(self, interval_s: float, *, started: float) -> None:
        self.interval_s = interval_s
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
                out.append(metrics_insight(models, name, monitor, now))
        return out

    def forget(self, partitions: Iterable[int]) -> None:
        """Revoked partitions: their next owner reports them."""
        gone = set(partitions)
        self.reported = {k: n for k, n in self.reported.items() if k[0] not in gone}
