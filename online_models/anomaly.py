"""Anomaly score of a customer's behaviour: River's Half-Space Trees on scaled features.

``x`` is a numeric feature vector (declared names, or the first example's numeric
keys; missing values count as the running mean). Pipeline::

    StatImputer(mean) | MinMaxScaler | HalfSpaceTrees(n_trees, height, window_size)

The score is in [0, 1], higher is more unusual; its level depends on the data (on the
Telco replay ordinary customers score 0.90-0.98), so a fixed cut-off does not travel.
**Alert rule**: ``alert`` is true when the score is at or above the running
``quantile`` (default ``ALERT_QUANTILE`` = 0.99, River's ``stats.Quantile``) of the
scores of the events learnt so far: about 1 % of ordinary traffic alerts, by
construction, and the threshold follows drift. During the first ``window_size``
examples the trees have no reference mass yet, and the quantile needs
``MIN_SCORES`` scores, so the model abstains / does not alert. The model learns from
every event (no label): ``learn_one(x)``.

>>> import random
>>> rnd = random.Random(0)
>>> model = AnomalyModel(window_size=50, seed=0)
>>> for _ in range(400):
...     _ = model.learn_one({"orders": rnd.gauss(5, 1), "spend": rnd.gauss(100, 10)})
>>> usual = model.predict_one({"orders": 5, "spend": 100})
>>> odd = model.predict_one({"orders": 40, "spend": 5000})
>>> usual.explanation["alert"], odd.explanation["alert"], odd.value > usual.value
(False, True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from river import preprocessing, stats

from online_models.base import Features, OnlineModel, Prediction
from online_models.river_typed import Transformer, as_transformer, half_space_trees, imputed
from online_models.tabular import NumericFeatures

ALERT_QUANTILE: Final = 0.99
MIN_SCORES: Final = 100


class AnomalyModel(OnlineModel):
    """Half-Space Trees anomaly score with a stated alert threshold (module docstring)."""

    name: ClassVar[str] = "anomaly"

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        quantile: float = ALERT_QUANTILE,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.numeric = NumericFeatures(features)
        self.threshold = stats.Quantile(quantile)
        self.scored = 0
        self.window_size = window_size
        self.trees = half_space_trees(n_trees, height, window_size, seed)
        self.scale: Transformer | None = None
        self.alerts = 0

    def _scaler(self, values: dict[str, float | None]) -> Transformer:
        if self.scale is None:
            self.scale = as_transformer(imputed(list(values), preprocessing.MinMaxScaler()))
        return self.scale

    def score(self, x: Features) -> float | None:
        """The anomaly score of ``x``, ``None`` while warming up or without features."""
        values = self.numeric.prepare(x)
        if values is None or self.version < self.window_size:
            return None
        return float(self.trees.score_one(self._scaler(values).transform_one(values)))

    def alert_threshold(self) -> float | None:
        """The score at or above which an event alerts (``None`` until known)."""
        if self.scored < MIN_SCORES:
            return None
        return float(self.threshold.get() or 0.0)

    def predict_one(self, x: Features) -> Prediction:
        score = self.score(x)
        if score is None:
            return Prediction.abstain(f"warming up: fewer than {self.window_size} examples")
        threshold = self.alert_threshold()
        alert = threshold is not None and score >= threshold
        self.alerts += alert
        confidence = min(1.0, self.version / (4 * self.window_size))
        shown = None if threshold is None else round(threshold, 6)
        explanation = {"alert": alert, "threshold": shown}
        return Prediction(round(score, 6), round(confidence, 6), explanation)

    def _learn(self, x: Features, y: Any) -> bool:
        del y
        values = self.numeric.prepare(x)
        if values is None:
            return False
        scale = self._scaler(values)
        scale.learn_one(values)
        xs = scale.transform_one(values)
        if self.version >= self.window_size:
            self.threshold.update(float(self.trees.score_one(xs)))
            self.scored += 1
        self.trees.learn_one(xs)
        return True
