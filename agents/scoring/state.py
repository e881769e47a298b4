"""One partition's model set: the models, their monitors, the churn join's index and
the customer-side caches the scorer needs, checkpointed together as one signed snapshot.

A customer's events all land in one partition of ``events``, so one set per partition
sees whole customer histories and moves with its partition on a rebalance. The set
is an :class:`~online_models.base.OnlineModel` only so that
:class:`~online_models.checkpoint.Checkpointer` can sign it as one blob (models and
caches stay consistent with each other); its ``version`` counts the events it learnt
from and ``offset`` is the last of them (a redelivered event at or below it is scored
again but not learnt twice). The churn holds themselves live in the ``churn-holds``
table (:mod:`online_models.delayed`): the set's join is attached to it after a restore
and relearns the holds closed after ``offset``.

Per-customer caches, each bounded to ``max_customers`` (least recently active
evicted) and dropped by :meth:`PartitionModels.forget` (erasure):

- ``texts``: the last ``recent_texts`` inbound messages ``(event_id, channel, text)``,
  each text cut to ``MAX_TEXT_CHARS``, so a later ``label`` event can be learnt from;
- ``subscriptions``: the latest subscription attributes (the churn inputs);
- ``outcomes``: the customer's last subscription outcome (``cancelled`` or
  ``retained``) until another subscription action, so a repeated outcome is refused;
- ``last``: per model, the last published value and the events since (the
  publication rule of :mod:`agents.scoring.publish`).

>>> models = PartitionModels(0, ModelConfig())
>>> sorted(models.models), models.version, models.offset
(['anomaly', 'churn', 'intent', 'reco', 'segment', 'sentiment'], 0, -1)
>>> sorted(models.monitors)
['anomaly', 'churn', 'intent', 'reco', 'segment', 'sentiment']
>>> models.remember_text("c1", "e1", "chat", "where is my card")
>>> models.text_of("c1", "e1"), models.forget("c1"), models.text_of("c1", "e1")
(('chat', 'where is my card'), 1, None)
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from agents.scoring.inputs import BEHAVIOUR, CHURN_NUMERIC
from online_models.anomaly import AnomalyModel
from online_models.base import Features, ModelError, OnlineModel, Prediction
from online_models.churn import ChurnModel
from online_models.delayed import DelayedLabelJoin
from online_models.monitor import Monitor
from online_models.reco import Recommender
from online_models.segments import SegmentModel
from online_models.text_models import IntentModel, SentimentModel
from online_models.warm import WarmStart

V = TypeVar("V")
MAX_SEGMENTS = 8
MAX_TEXT_CHARS = 2_000
"""Characters of a remembered message kept for learning from a later label."""
"""Segments per monitor (channels, plans); later ones are pooled as ``other``."""
MAX_EXAMPLE_IDS = 20_000
"""Ids of shared examples a set remembers (a resend comes within a commit interval)."""


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The stated rules of the scoring stage (from ``Settings``, see ``agents.scoring.agent``)."""

    churn_horizon_s: int = 30 * 86_400
    anomaly_quantile: float = 0.99
    recent_texts: int = 20
    max_customers: int = 100_000
    publish_every: int = 20
    churn_min_change: float = 0.05
    lateness_s: int = 3_600


class Recent(Generic[V]):
    """A dict bounded to ``size`` keys; the least recently written goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        return self.items.get(key)

    def put(self, key: str, value: V) -> V:
        items = self.items
        items[key] = value
        items.move_to_end(key)
        if len(items) > self.size:
            items.popitem(last=False)
        return value

    def pop(self, key: str) -> int:
        return 0 if self.items.pop(key, None) is None else 1

    def __len__(self) -> int:
        return len(self.items)


def unsupervised_monitors() -> dict[str, Monitor]:
    """Error streams of the models without labels, by segment (``agents.scoring.tabular``):
    ``segment``, the distance to the assigned centre as ``d / (1 + d)``; ``anomaly``, the
    anomaly score."""
    return {name: Monitor("error", max_segments=MAX_SEGMENTS) for name in ("segment", "anomaly")}


def build_models(config: ModelConfig) -> dict[str, OnlineModel]:
    """A fresh model of every family, configured for the scorer's inputs."""
    models: list[OnlineModel] = [
        SentimentModel(),
        IntentModel(),
        ChurnModel(numeric=CHURN_NUMERIC),
        SegmentModel(features=BEHAVIOUR),
        AnomalyModel(features=BEHAVIOUR, quantile=config.anomaly_quantile),
        Recommender(max_customers=config.max_customers),
    ]
    return {model.name: model for model in models}


class PartitionModels(OnlineModel):
    """The model set of one ``events`` partition (see the module docstring)."""

    name: ClassVar[str] = "partition_models"

    def __init__(self, partition: int, config: ModelConfig, warm: WarmStart | None = None) -> None:
        super().__init__()
        self.partition = partition
        self.config = config
        self.snapshot: str | None = None if warm is None else warm.snapshot
        """The warm-start snapshot the text models began from (None: cold)."""
        self.offset = -1
        self.published_through = -1
        """The last offset whose insights Kafka had acknowledged when the set was
        checkpointed (see ``agents.scoring.agent.ScoringAgent.save``)."""
        self.watermark: datetime | None = None
        self.models = build_models(config)
        if warm is not None:
            self.models.update(warm.copies())
        self.monitors = {
            "sentiment": Monitor("label", max_segments=MAX_SEGMENTS),
            "intent": Monitor("label", max_segments=MAX_SEGMENTS),
            "churn": Monitor("probability", max_segments=MAX_SEGMENTS),
            "reco": Monitor("label", max_segments=MAX_SEGMENTS),  # hit or miss at k
            **unsupervised_monitors(),
        }
        horizon = timedelta(seconds=config.churn_horizon_s)
        self.join = DelayedLabelJoin(
            horizon, max_pending=config.max_customers, partition=partition, positional=BEHAVIOUR
        )
        self.texts: Recent[deque[tuple[str, str, str]]] = Recent(config.max_customers)
        self.subscriptions: Recent[dict[str, Any]] = Recent(config.max_customers)
        self.outcomes: Recent[str] = Recent(config.max_customers)
        self.last: Recent[dict[str, list[Any]]] = Recent(config.max_customers)
        self.examples: Recent[bool] = Recent(MAX_EXAMPLE_IDS)
        """Ids of the examples learnt from (``schemas.examples``): a resent copy is skipped."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("published_through", -1)  # a checkpoint written before the mark
        state.setdefault("snapshot", None)  # ... or before warm starts
        self.__dict__.update(state)
        if "outcomes" not in state:  # a checkpoint written before outcomes were kept
            self.outcomes = Recent(self.config.max_customers)
        if "examples" not in state:  # ... or before examples were shared
            self.examples = Recent(MAX_EXAMPLE_IDS)
        if "reco" not in self.monitors:  # a checkpoint written before reco was monitored
            self.monitors["reco"] = Monitor("label", max_segments=MAX_SEGMENTS)
        for name, monitor in unsupervised_monitors().items():  # ... or segment and anomaly
            self.monitors.setdefault(name, monitor)
        if not self.join.positional:  # a checkpoint written before the holds table
            self.join.partition, self.join.positional = self.partition, BEHAVIOUR

    # --- the OnlineModel protocol (the set itself predicts nothing)
    def predict_one(self, x: Features) -> Prediction:
        del x
        return Prediction.abstain("a model set: use models[name]")

    def _learn(self, x: Features, y: Any) -> bool:
        del x, y
        return False

    @property
    def churn(self) -> ChurnModel:
        """The churn model, typed (it has the fast ``proba`` path)."""
        model = self.models["churn"]
        if not isinstance(model, ChurnModel):
            raise ModelError(f"the churn slot holds {type(model).__name__}")
        return model

    # --- progress
    def learnt(self, offset: int) -> bool:
        """Record that the event at ``offset`` is learnt from; ``False`` if it was already."""
        if offset <= self.offset:
            return False
        self.offset = offset
        self.version += 1
        return True

    def settled(self, offset: int) -> bool:
        """Whether the event at ``offset`` was scored and its insights acknowledged
        before the checkpoint this set was restored from (a re-read event)."""
        return offset <= self.published_through

    def advance(self, at: datetime) -> datetime:
        """Move the partition's event-time watermark to ``at`` if later; the watermark."""
        if self.watermark is None or at > self.watermark:
            self.watermark = at
        return self.watermark

    # --- per-customer caches
    def remember_text(self, customer_id: str, event_id: str, channel: str, text: str) -> None:
        texts = self.texts.get(customer_id)
        if texts is None:
            texts = deque(maxlen=self.config.recent_texts)
        texts.append((event_id, channel, text[:MAX_TEXT_CHARS]))
        self.texts.put(customer_id, texts)

    def text_of(self, customer_id: str, event_id: str) -> tuple[str, str] | None:
        """``(channel, text)`` of one of the customer's recent inbound messages."""
        for found, channel, text in reversed(self.texts.get(customer_id) or ()):
            if found == event_id:
                return channel, text
        return None

    def forget(self, customer_id: str) -> int:
        """Erasure: every model's per-customer part, the pending churn hold and caches."""
        removed = sum(model.forget(customer_id) for model in self.models.values())
        removed += self.join.forget(customer_id)
        for cache in (self.texts, self.subscriptions, self.outcomes, self.last):
            removed += cache.pop(customer_id)
        return removed
