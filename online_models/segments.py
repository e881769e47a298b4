"""Customer segments by online k-means over behaviour features.

``x`` is a customer's numeric feature vector (for example the rolling features of
``features/``: orders, spend, page views, messages, ratings); the segment is the
nearest of ``n_clusters`` centres of River's ``cluster.KMeans`` in standardised units::

    StatImputer(mean) | StandardScaler | KMeans(n_clusters, halflife)

The feature list is declared or taken from the first example; a missing value counts
as the running mean. ``learn_one(x)`` needs no label. The explanation gives the distance
to the centre and the centre's most distinctive features (in standard deviations);
the confidence is the margin ``1 - d_nearest / d_second``.

>>> model = SegmentModel(n_clusters=2, seed=1)
>>> for i in range(200):
...     _ = model.learn_one({"orders": 1 + i % 2, "spend": 10.0 + i % 3})
...     _ = model.learn_one({"orders": 30 + i % 2, "spend": 900.0 + i % 3})
>>> low = model.predict_one({"orders": 1, "spend": 11.0}).value
>>> high = model.predict_one({"orders": 31, "spend": 901.0}).value
>>> low != high
True
>>> SegmentModel().predict_one({"orders": 1}).explanation["reason"]
'no example learned yet'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from river import preprocessing

from online_models.base import Features, OnlineModel, Prediction, top_items
from online_models.river_typed import Transformer, as_transformer, imputed, kmeans
from online_models.tabular import NumericFeatures


class SegmentModel(OnlineModel):
    """Online k-means segments (see the module docstring)."""

    name: ClassVar[str] = "segment"

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        n_clusters: int = 5,
        halflife: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.numeric = NumericFeatures(features)
        self.n_clusters = n_clusters
        self.halflife = halflife
        self.seed = seed
        self.scale: Transformer | None = None
        self.kmeans = kmeans(n_clusters, halflife, seed)

    def _scaler(self, values: dict[str, float | None]) -> Transformer:
        if self.scale is None:
            self.scale = as_transformer(imputed(list(values), preprocessing.StandardScaler()))
        return self.scale

    def _scaled(self, x: Features) -> dict[str, float] | None:
        values = self.numeric.prepare(x)
        if values is None:
            return None
        return dict(self._scaler(values).transform_one(values))

    def predict_one(self, x: Features) -> Prediction:
        if self.version == 0:
            return Prediction.abstain("no example learned yet")
        xs = self._scaled(x)
        if xs is None:
            return Prediction.abstain("no numeric feature")
        distances = sorted((_distance(c, xs), k) for k, c in self.kmeans.centers.items())
        (nearest, segment), second = distances[0], distances[1][0] if len(distances) > 1 else 0
        margin = 1.0 - nearest / second if second > 0 else 0.0
        centre = {str(k): float(v) for k, v in self.kmeans.centers[segment].items()}
        explanation = {"distance": round(nearest, 4), "centre": top_items(centre, 3)}
        return Prediction(int(segment), round(margin, 6), explanation)

    def _learn(self, x: Features, y: Any) -> bool:
        del y
        values = self.numeric.prepare(x)
        if values is None:
            return False
        scale = self._scaler(values)
        scale.learn_one(values)
        self.kmeans.learn_one(scale.transform_one(values))
        return True


def _distance(centre: dict[Any, float], x: dict[str, float]) -> float:
    """Euclidean distance; a key missing on one side counts as 0 (the mean)."""
    keys = {*centre, *x}
    return math.sqrt(sum((centre.get(k, 0.0) - x.get(k, 0.0)) ** 2 for k in keys))
