"""Every model family by name: what a scoring agent builds and checkpoints.

>>> sorted(MODELS)
['anomaly', 'churn', 'intent', 'reco', 'segment', 'sentiment']
>>> all(MODELS[name]().name == name for name in MODELS)
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from online_models.anomaly import AnomalyModel
from online_models.base import OnlineModel
from online_models.churn import ChurnModel
from online_models.reco import Recommender
from online_models.segments import SegmentModel
from online_models.text_models import IntentModel, SentimentModel

MODELS: Final[dict[str, Callable[[], OnlineModel]]] = {
    SentimentModel.name: SentimentModel,
    IntentModel.name: IntentModel,
    ChurnModel.name: ChurnModel,
    SegmentModel.name: SegmentModel,
    AnomalyModel.name: AnomalyModel,
    Recommender.name: Recommender,
}
