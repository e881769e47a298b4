"""One event being scored: what the model families read and where their insights go.

A :class:`Turn` carries the event, its partition's model set, whether the event is
learnt from (``learn``: ``False`` for a redelivered event the set already learnt),
the feature vector (built once, on first use) and the insights and model outputs
produced so far. :class:`FeatureSource` is how the scorer reaches the customer's
features: the feature agent's engine in a worker, a plain engine in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agents.scoring import metrics as sm
from agents.scoring.publish import drift_insight
from agents.scoring.state import PartitionModels
from features.definitions import Vector
from online_models.monitor import Monitor
from schemas.events import Event
from schemas.examples import Example
from schemas.published import Insight


class FeatureSource(Protocol):
    """The customer features the scorer reads, and the model-output slot it fills."""

    def vector(self, customer_id: str) -> Vector | None:
        """The customer's current feature vector, ``None`` without a state."""

    def set_outputs(self, customer_id: str, outputs: Mapping[str, float]) -> None:
        """Fill ``features.definitions.MODEL_OUTPUTS`` for the customer."""


@dataclass(slots=True)
class Turn:
    """The scoring of one event (see the module docstring)."""

    event: Event
    models: PartitionModels
    learn: bool
    now: datetime
    source: FeatureSource
    insights: list[Insight] = field(default_factory=list)
    outputs: dict[str, float] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    """Labelled text examples learnt here, for the other partitions (``schemas.examples``)."""
    _vector: Vector | None = None
    _read: bool = False

    def vector(self) -> Vector | None:
        """The customer's feature vector, read once per event."""
        if not self._read:
            self._vector = self.source.vector(self.event.customer_id)
            self._read = True
        return self._vector

    def publish(self, insight: Insight) -> None:
        self.insights.append(insight)

    def monitor(self, model: str, y_true: Any, y_pred: Any, segment: str) -> None:
        """A prequential example for ``model``; publishes a degradation drift."""
        monitor = self.models.monitors[model]
        before = _error_rate(monitor)
        if not monitor.update(y_true, y_pred, segment=segment):
            return
        sm.DRIFTS.labels(model).inc()
        after = _error_rate(monitor)
        if before is not None and after is not None and after > before:
            version = self.models.models[model].version
            self.publish(drift_insight(self.event, model, version, monitor.report(), self.now))


def _error_rate(monitor: Monitor) -> float | None:
    """ADWIN's current estimate of the error rate (``None`` if it has none)."""
    value = getattr(monitor.detector, "estimation", None)
    return float(value) if isinstance(value, int | float) else None
