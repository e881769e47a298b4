"""Prequential quality of a model, per segment (bias audit), with drift detection.

Prequential ("test then train"): each labelled example is scored by the model *before*
the model learns from it, so every figure is an out-of-sample estimate on the stream.
A :class:`Monitor` keeps River metrics over all examples and per segment (a channel, a
plan, a customer group: whatever the caller names), and runs River's ``drift.ADWIN``
on the model's error stream (0/1 for a label, ``|y - p|`` for a probability). A drift
is reported once when ADWIN detects a change in the error rate.

- ``kind="label"``: ``Accuracy`` and ``MacroF1``;
- ``kind="probability"`` (binary, ``p`` = P(True)): ``ROCAUC``, ``LogLoss`` and the
  accuracy of ``p >= 0.5``;
- ``kind="error"`` (a model without labels: ``y_true`` is the ideal ``0`` and
  ``y_pred`` the error itself, e.g. a clustering's distance to its centre or an anomaly
  score, in [0, 1]): ``mean_error`` (River's ``MAE``); ADWIN runs on that stream, so a
  drift means the data moved away from what the model has learnt.

Segments are bounded (``max_segments``; later ones are pooled as ``"other"``).

>>> monitor = Monitor("label")
>>> for y, p, seg in [("a", "a", "chat"), ("b", "a", "email"), ("b", "b", "chat")]:
...     _ = monitor.update(y, p, segment=seg)
>>> report = monitor.report()
>>> round(report["accuracy"], 3), report["n"], round(report["by_segment"]["chat"]["accuracy"], 3)
(0.667, 3, 1.0)
"""

from __future__ import annotations

from typing import Any, Final, Literal

from online_models.river_typed import DriftDetector, Metric, adwin, make_metric

MonitorKind = Literal["label", "probability", "error"]
OTHER: Final = "other"


def _metric_set(kind: MonitorKind) -> dict[str, Metric]:
    if kind == "error":
        return {"mean_error": make_metric("mae")}  # |0 - error|: errors are >= 0
    if kind == "label":
        return {"accuracy": make_metric("accuracy"), "macro_f1": make_metric("macro_f1")}
    return {
        "roc_auc": make_metric("roc_auc"),
        "log_loss": make_metric("log_loss"),
        "accuracy": make_metric("accuracy"),
    }


MAX_DRIFTS = 100


class Monitor:
    """Prequential metrics overall and per segment, plus ADWIN on the error stream."""

    def __init__(self, kind: MonitorKind, *, delta: float = 0.002, max_segments: int = 50) -> None:
        self.kind = kind
        self.max_segments = max_segments
        self.n = 0
        self.drifts: list[int] = []
        """Example counts at which ADWIN detected a change in the error rate (the last
        ``MAX_DRIFTS``: they are copied into every metrics insight and checkpoint)."""
        self.overall = _metric_set(kind)
        self.segments: dict[str, dict[str, Metric]] = {}
        self.detector: DriftDetector = adwin(delta)

    def _segment(self, name: str) -> dict[str, Metric]:
        if name not in self.segments and len(self.segments) >= self.max_segments:
            name = OTHER
        found = self.segments.get(name)
        if found is None:
            found = self.segments[name] = _metric_set(self.kind)
        return found

    def update(self, y_true: Any, y_pred: Any, *, segment: str | None = None) -> bool:
        """Record one prequential example; ``True`` when a drift was just detected.

        For ``"probability"``, ``y_true`` is a bool and ``y_pred`` is P(True); for
        ``"error"``, ``y_true`` is 0 and ``y_pred`` the error.
        """
        self.n += 1
        groups = [self.overall] if segment is None else [self.overall, self._segment(segment)]
        if segment is not None:  # examples per segment (a set pickled before has none)
            counts = self.__dict__.setdefault("segment_n", {})
            name = segment if segment in self.segments else OTHER
            counts[name] = counts.get(name, 0) + 1
        for group in groups:
            for name, metric in group.items():
                if self.kind == "probability" and name == "accuracy":
                    metric.update(bool(y_true), float(y_pred) >= 0.5)
                else:
                    metric.update(y_true, y_pred)
        if self.kind == "label":
            error = float(y_true != y_pred)
        else:
            error = abs(float(bool(y_true)) - float(y_pred))
        self.detector.update(error)
        if self.detector.drift_detected:
            self.drifts.append(self.n)
            del self.drifts[:-MAX_DRIFTS]
            return True
        return False

    def report(self) -> dict[str, Any]:
        """Current figures: overall metrics, ``n``, ``drifts`` and ``by_segment``."""
        out: dict[str, Any] = {name: float(m.get()) for name, m in self.overall.items()}
        out["n"] = self.n
        out["drifts"] = list(self.drifts)
        counts = self.__dict__.get("segment_n", {})
        out["by_segment"] = {
            seg: {name: float(m.get()) for name, m in group.items()} | {"n": counts.get(seg, 0)}
            for seg, group in sorted(self.segments.items())
        }
        return out
