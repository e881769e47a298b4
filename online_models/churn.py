"""Churn risk from customer features: a River logistic regression with explanations.

``x`` is a flat feature dict (the Telco columns are the reference: ``tenure``,
``MonthlyCharges``, ``TotalCharges`` numeric, the rest categories); ``y`` is the outcome
(``True`` / ``"cancelled"`` churned, ``False`` / ``"retained"`` stayed). Features are
cleaned by :class:`~online_models.tabular.TabularSchema` (missing numbers are imputed
with a running mean, ids are ignored, categories are bounded), then::

    StatImputer | (Select(numeric) | StandardScaler) + (SelectType(str) | OneHotEncoder)
                | LogisticRegression(AdaGrad)

The explanation lists the largest contributions ``weight x scaled value`` to the log-odds.
An unreadable outcome, or features with nothing usable in them, are not learnt from.
Labels arrive a horizon after the prediction: :mod:`online_models.delayed` holds them.

>>> model = ChurnModel()
>>> for _ in range(30):
...     _ = model.learn_one({"tenure": 1, "Contract": "Month-to-month"}, "cancelled")
...     _ = model.learn_one({"tenure": 60, "Contract": "Two year"}, False)
>>> risky = model.predict_one({"tenure": 2, "Contract": "Month-to-month"})
>>> safe = model.predict_one({"tenure": 50, "Contract": "Two year"})
>>> risky.value > 0.5 > safe.value, risky.explanation["risk"]
(True, 'high')
>>> model.learn_one({"tenure": 3}, "maybe"), model.predict_one({}).value is not None
(False, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from river import compose, preprocessing

from online_models.base import Features, OnlineModel, Prediction, top_items
from online_models.river_typed import (
    as_probabilistic,
    as_transformer,
    imputed,
    logistic_regression,
)
from online_models.tabular import TabularSchema

TELCO_NUMERIC: Final = ("tenure", "MonthlyCharges", "TotalCharges")
ID_KEYS: Final = ("customerID", "customer_id", "Churn", "event_id")
HIGH_RISK: Final = 0.5
"""``explanation["risk"]`` is ``high`` at or above this churn probability."""
_OUTCOMES: Final = {"cancelled": True, "churned": True, "yes": True, "retained": False, "no": False}


def churn_label(y: Any) -> bool | None:
    """``y`` as churned (``True``) / stayed (``False``), ``None`` when unreadable.

    >>> churn_label("Cancelled"), churn_label(0), churn_label("later")
    (True, False, None)
    """
    if isinstance(y, bool):
        return y
    if isinstance(y, int) and y in (0, 1):
        return bool(y)
    if isinstance(y, str):
        return _OUTCOMES.get(y.strip().lower())
    return None


class ChurnModel(OnlineModel):
    """Probability that a customer cancels within the horizon (module docstring)."""

    name: ClassVar[str] = "churn"
    transient: ClassVar[tuple[str, ...]] = ("_prepared",)
    _prepared: tuple[Features, dict[str, Any]] | None = None
    """The last dict prepared and its preparation (see :meth:`_prepare`)."""

    def __init__(
        self,
        *,
        numeric: Sequence[str] = TELCO_NUMERIC,
        ignore: Sequence[str] = ID_KEYS,
        lr: float = 0.05,
        explain_top: int = 3,
    ) -> None:
        super().__init__()
        self.schema = TabularSchema(numeric=numeric, ignore=ignore)
        self.explain_top = explain_top
        names = self.schema.numeric_names
        scaled = compose.Select(*names) | preprocessing.StandardScaler()
        encoded = compose.SelectType(str) | preprocessing.OneHotEncoder()
        encoder = imputed(names, scaled + encoded)
        self.regression = logistic_regression(lr)
        self.encoder = as_transformer(encoder)
        self.pipeline = as_probabilistic(encoder | self.regression)
        self._prepared = None

    def _prepare(self, x: Features) -> dict[str, Any]:
        """``schema.prepare(x)``, once for a predict followed by a learn of the same dict
        (test-then-train; the dict must not change in between)."""
        cached = self._prepared
        if cached is not None and cached[0] is x:
            return cached[1]
        prepared = self.schema.prepare(x)
        self._prepared = (x, prepared)
        return prepared

    def proba(self, x: Features) -> float:
        """The churn probability of ``x`` (no explanation: the fast path)."""
        return float(self.pipeline.predict_proba_one(self._prepare(x)).get(True, 0.0))

    def predict_one(self, x: Features) -> Prediction:
        xt = self.encoder.transform_one(self._prepare(x))
        p = float(self.regression.predict_proba_one(xt).get(True, 0.0))
        weights = self.regression.weights
        contributions = {name: weights.get(name, 0.0) * value for name, value in xt.items()}
        explanation = {
            "risk": "high" if p >= HIGH_RISK else "low",
            "top_features": top_items(contributions, self.explain_top),
        }
        return Prediction(round(p, 6), round(max(p, 1.0 - p), 6), explanation)

    def _learn(self, x: Features, y: Any) -> bool:
        label = churn_label(y)
        prepared = self._prepare(x)
        self._prepared = None
        if label is None or not any(v is not None for v in prepared.values()):
            return False
        self.pipeline.learn_one(prepared, label)
        return True
