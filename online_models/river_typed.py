"""Typed doors into the parts of River that ship without annotations.

River marks itself typed, but several constructors and methods used here have no
annotations, which ``mypy --strict`` refuses to call from typed code. Each factory
below calls River through ``Any`` once and returns a small Protocol naming exactly
what the models use, so the rest of the package stays strictly typed.

>>> metric = make_metric("accuracy")
>>> metric.update("a", "a"); metric.update("a", "b"); metric.get()
0.5
>>> detector = adwin(0.002)
>>> detector.update(0.0); detector.drift_detected
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, cast

from river import (
    anomaly,
    cluster,
    compose,
    drift,
    linear_model,
    metrics,
    optim,
    preprocessing,
    stats,
)

MetricName = Literal["accuracy", "macro_f1", "roc_auc", "log_loss", "mae"]

_ANOMALY: Any = anomaly
_CLUSTER: Any = cluster
_LINEAR: Any = linear_model
_DRIFT: Any = drift
_METRICS: Any = metrics
_PREPROCESSING: Any = preprocessing


class Metric(Protocol):
    """A River metric: ``update(y_true, y_pred)`` then ``get()``."""

    def update(self, y_true: Any, y_pred: Any) -> None: ...
    def get(self) -> float: ...


class DriftDetector(Protocol):
    """A River drift detector fed one value at a time."""

    drift_detected: bool

    def update(self, x: float) -> None: ...


class Scorer(Protocol):
    """A River anomaly detector."""

    def learn_one(self, x: dict[str, float]) -> None: ...
    def score_one(self, x: dict[str, float]) -> float: ...


class Transformer(Protocol):
    """A River transformer or a pipeline of transformers, on numeric dicts."""

    def learn_one(self, x: dict[str, Any]) -> None: ...
    def transform_one(self, x: dict[str, Any]) -> dict[str, float]: ...


class Probabilistic(Protocol):
    """A River pipeline ending in a binary classifier."""

    def learn_one(self, x: dict[str, Any], y: bool) -> None: ...
    def predict_proba_one(self, x: dict[str, Any]) -> dict[bool, float]: ...


_CONSTRUCTORS: dict[MetricName, str] = {
    "accuracy": "Accuracy",
    "macro_f1": "MacroF1",
    "roc_auc": "ROCAUC",
    "log_loss": "LogLoss",
    "mae": "MAE",
}


def make_metric(name: MetricName) -> Metric:
    """A fresh River metric (``ROCAUC`` with 100 thresholds instead of River's 10)."""
    kwargs = {"n_thresholds": 100} if name == "roc_auc" else {}
    return cast(Metric, getattr(_METRICS, _CONSTRUCTORS[name])(**kwargs))


def adwin(delta: float) -> DriftDetector:
    """River's ADWIN change detector."""
    return cast(DriftDetector, _DRIFT.ADWIN(delta=delta))


def half_space_trees(n_trees: int, height: int, window_size: int, seed: int) -> Scorer:
    """River's Half-Space Trees."""
    return cast(
        Scorer,
        _ANOMALY.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed),
    )


def imputed(names: Sequence[str], then: Any) -> compose.Pipeline:
    """``StatImputer`` (running mean of each named feature) ``| then``."""
    imputer = _PREPROCESSING.StatImputer(*[(name, stats.Mean()) for name in names])
    return cast(compose.Pipeline, imputer | then)


def as_transformer(pipeline: compose.Pipeline) -> Transformer:
    """A pipeline of transformers, typed by what it does."""
    return cast(Transformer, pipeline)


def as_probabilistic(pipeline: compose.Pipeline) -> Probabilistic:
    """A pipeline ending in a binary classifier, typed by what it does."""
    return cast(Probabilistic, pipeline)


class Clusterer(Protocol):
    """River's ``cluster.KMeans``: centres by cluster id."""

    centers: dict[int, dict[str, float]]

    def learn_one(self, x: dict[str, float]) -> None: ...


class LinearBinary(Protocol):
    """River's ``linear_model.LogisticRegression``: weights by feature name."""

    weights: Mapping[str, float]

    def predict_proba_one(self, x: dict[str, float]) -> dict[bool, float]: ...


def kmeans(n_clusters: int, halflife: float, seed: int) -> Clusterer:
    """River's online k-means."""
    return cast(Clusterer, _CLUSTER.KMeans(n_clusters=n_clusters, halflife=halflife, seed=seed))


def logistic_regression(lr: float) -> LinearBinary:
    """River's logistic regression with AdaGrad steps of ``lr``."""
    return cast(LinearBinary, _LINEAR.LogisticRegression(optimizer=optim.AdaGrad(lr)))
