"""The scoring stage as pure logic: one event in, its insights out (no Kafka here).

The feature agent calls :meth:`Scorer.score` right after it applied an event, so the
scorer reads the customer's fresh vector and fills the model-output slot while the
event is current (Faust table writes must happen then). Per event, in order:

1. ``erasure``: every model of the partition forgets the customer, its pending
   churn hold, recent texts, subscription and publication state go; nothing else;
2. the partition's event-time watermark advances; churn holds closed after the set's
   checkpoint (see :meth:`Scorer.adopt`) are relearnt, and holds past their horizon
   close as retained (``agents.scoring.tabular``);
3. the event's own models: inbound messages, labels, ratings and reviewers' draft
   feedback (``agents.scoring.text``), subscriptions (outcomes close churn holds);
4. churn, segment and anomaly on every event that changes features, and reco on
   product interactions (``agents.scoring.tabular``);
5. the model-output slot: ``sentiment_trend`` after a scored inbound message,
   ``churn_risk`` when a churn insight is published.

Learning happens once per event: an event at or below the set's ``offset`` (a
redelivery after a restore) is scored and published again, with the same insight
ids, but not learnt from.

**Shared labels** (``schemas.examples``): a labelled text example learnt in step 3 is
also handed out (:meth:`Scorer.take_examples`) for the other partitions of ``events``;
a copy arriving there is learnt by :meth:`Scorer.learn_example`, once, in log order. So
the sentiment and intent models of every partition learn from every label.

**Coalescing** (``coalesce``, the worker's default): step 4's churn, segment and anomaly,
and reco's top-k, wait in :attr:`Scorer.pending` and run once per customer when the
agent calls :meth:`Scorer.flush` at the end of its batch, on the customer's vector then,
as insights of its latest behaviour event (reco: of its latest order or cart add); reco
still learns from every event, and a ``subscription`` runs its customer's waiting step
first, so an outcome closes the hold the earlier events opened. A session's burst of
page views costs one step instead of one per view.

>>> from features.engine import FeatureEngine
>>> from features.definitions import Rules
>>> from schemas.events import parse_event
>>> scorer = Scorer(ModelConfig(), EngineFeatures(FeatureEngine({}, {}, Rules()), Rules()))
>>> ev = parse_event(b'{"type": "message", "event_id": "m1", "customer_id": "c1",'
...     b' "occurred_at": "2024-01-01T10:00:00Z", "source": "s", "channel": "chat",'
...     b' "direction": "inbound", "conversation_id": "k1", "text": "where is my card?"}')
>>> _ = scorer.features.engine.process(ev, 0, 0)
>>> [(i.insight_id, i.prediction) for i in scorer.score(ev, 0, 0)]
[('m1:sentiment', 'unknown'), ('m1:intent', 'unknown'), ('m1:churn', 0.5)]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agents.scoring import tabular, text
from agents.scoring.publish import PublishRule
from agents.scoring.state import ModelConfig, PartitionModels
from agents.scoring.turn import FeatureSource, Turn
from features.definitions import Rules, Vector
from features.engine import FeatureEngine
from features.vector import model_inputs
from online_models.delayed import by_partition
from online_models.warm import WarmStart
from schemas.events import AgentLabel, DraftFeedback, Event, Message, Rating, Subscription
from schemas.examples import Example
from schemas.published import Insight

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Pending:
    """A customer's behaviour step waiting for the end of the batch (``coalesce``)."""

    event: Event
    partition: int
    learn: bool
    reco: Event | None
    settled: bool = False
    """Re-read, its insights acknowledged before the set's checkpoint: nothing to do."""


class EngineFeatures:
    """:class:`FeatureSource` over a :class:`FeatureEngine` (the feature agent's)."""

    def __init__(self, engine: FeatureEngine, rules: Rules) -> None:
        self.engine = engine
        self.rules = rules

    def vector(self, customer_id: str) -> Vector | None:
        state = self.engine.state(customer_id)
        return None if state is None else model_inputs(state, self.rules)

    def set_outputs(self, customer_id: str, outputs: Mapping[str, float]) -> None:
        self.engine.set_model_outputs(customer_id, outputs)


class Scorer:
    """Model sets by partition, and the per-event steps of the module docstring.

    ``holds`` is where the churn join keeps its holds (the ``churn-holds`` table in a
    worker); a set joins it in :meth:`adopt`, which reads the entries of its partition
    from one pass over ``holds`` shared by every partition adopted until :meth:`rescan`
    (the table's recovery, which follows every rebalance).
    """

    def __init__(
        self,
        config: ModelConfig,
        features: FeatureSource,
        clock: Clock = _now,
        holds: MutableMapping[str, bytes] | None = None,
        *,
        coalesce: bool = False,
        warm: WarmStart | None = None,
    ) -> None:
        self.config = config
        self.features = features
        self.warm = warm
        """The snapshot new partition sets start their text models from (None: cold)."""
        self.clock = clock
        self.holds: MutableMapping[str, bytes] = {} if holds is None else holds
        self.rule = PublishRule(config.publish_every, config.churn_min_change)
        self.lateness = timedelta(seconds=config.lateness_s)
        self.sets: dict[int, PartitionModels] = {}
        self.coalesce = coalesce
        self.pending: dict[str, Pending] = {}
        """Customers whose behaviour step waits for :meth:`flush` (``coalesce``)."""
        self.examples: list[Example] = []
        """Labelled examples learnt and not yet handed out (:meth:`take_examples`)."""
        self._scan: dict[int, list[tuple[str, bytes]]] | None = None

    def fresh(self, partition: int) -> PartitionModels:
        """A new set, not yet attached to the holds (see :meth:`adopt`)."""
        return PartitionModels(partition, self.config, self.warm)

    def adopt(self, models: PartitionModels) -> PartitionModels:
        """Make ``models`` (fresh or restored) its partition's set, its churn join
        attached to the holds; holds closed after the set's ``offset`` are relearnt on
        the next event it learns from."""
        if self._scan is None:
            self._scan = by_partition(self.holds)
            unreadable = self._scan.pop(-1, [])
            if unreadable:
                log.error("scoring: %d unreadable churn holds skipped", len(unreadable))
        entries = self._scan.pop(models.partition, [])
        models.join.attach(self.holds, learnt_offset=models.offset, entries=entries)
        self.sets[models.partition] = models
        return models

    def rescan(self) -> None:
        """The holds changed under the scorer (a recovery, after every rebalance): the
        next :meth:`adopt` reads them again."""
        self._scan = None

    def models(self, partition: int) -> PartitionModels:
        """The partition's set (fresh if none was restored)."""
        found = self.sets.get(partition)
        if found is None:
            found = self.adopt(self.fresh(partition))
        return found

    def score(self, event: Event, partition: int, offset: int) -> list[Insight]:
        """The insights of one applied event (module docstring); with ``coalesce`` the
        behaviour step waits for :meth:`flush`."""
        models = self.models(partition)
        learn = models.learnt(offset)
        settled = not learn and models.settled(offset)
        cid = event.customer_id
        if event.type == "erasure":
            self.pending.pop(cid, None)
            if learn:
                removed = models.forget(cid)
                log.info("scoring: erased %s (%d model-side items)", cid, removed)
            return []
        turn = Turn(event, models, learn, self.clock(), self.features)
        if isinstance(event, Subscription) and cid in self.pending:
            # an outcome closes the hold the waiting step opens: that step comes first
            turn.insights.extend(self._behaviour(self.pending.pop(cid)))
        watermark = models.advance(event.occurred_at)
        if learn:
            for closed in models.join.take_redo():
                tabular.learn_churn(turn, closed)
            for closed in models.join.expire(watermark - self.lateness, offset=offset):
                tabular.learn_churn(turn, closed)
        self._own_models(turn, event)
        if event.type in tabular.BEHAVIOUR_EVENTS:
            if self.coalesce:
                tabular.reco_learn(turn, event)
                self._defer(event, partition, learn, settled)
            elif not settled:
                tabular.behaviour_models(turn, self.rule)
                tabular.reco(turn, event)
        if turn.outputs:
            self.features.set_outputs(cid, turn.outputs)
        self.examples.extend(turn.examples)
        return turn.insights

    def learn_example(self, example: Example, partition: int, offset: int) -> bool:
        """A labelled example another partition learnt, at ``offset`` of this partition's
        log: learnt once (not again when re-read below the set's offset)."""
        models = self.models(partition)
        if not models.learnt(offset):
            return False
        return text.learn_example(models, example)

    def take_examples(self) -> list[Example]:
        """The examples learnt since the last call, to send to the other partitions."""
        found, self.examples = self.examples, []
        return found

    def _defer(self, event: Event, partition: int, learn: bool, settled: bool) -> None:
        before = self.pending.get(event.customer_id)
        reco = event if tabular.publishes_reco(event) else (before.reco if before else None)
        self.pending[event.customer_id] = Pending(event, partition, learn, reco, settled)

    def waiting_in(self, partition: int) -> bool:
        """Whether a behaviour step of ``partition`` waits for the end of the batch."""
        return any(p.partition == partition for p in self.pending.values())

    def flush(self, before: Callable[[str], None] | None = None) -> list[Insight]:
        """Run the waiting behaviour steps, one per customer (``before`` is called with
        the customer id first: the worker makes its last event current again)."""
        pending, self.pending = self.pending, {}
        out: list[Insight] = []
        for cid, waiting in pending.items():
            if before is not None:
                before(cid)
            out.extend(self._behaviour(waiting))
        return out

    def _behaviour(self, waiting: Pending) -> list[Insight]:
        """Churn, segment and anomaly on the customer's vector now, as insights of its
        latest behaviour event; reco's top-k as one of its latest order or cart add."""
        models = self.sets.get(waiting.partition)
        if models is None or waiting.settled:
            # revoked meanwhile (its events are read again by the new owner), or a re-read
            # event whose insights were published and acknowledged before the checkpoint
            return []
        now = self.clock()
        turn = Turn(waiting.event, models, waiting.learn, now, self.features)
        tabular.behaviour_models(turn, self.rule)
        if waiting.reco is not None:
            reco = Turn(waiting.reco, models, waiting.learn, now, self.features)
            tabular.reco_publish(reco)
            turn.insights.extend(reco.insights)
        if turn.outputs:
            self.features.set_outputs(waiting.event.customer_id, turn.outputs)
        return turn.insights

    @staticmethod
    def _own_models(turn: Turn, event: Event) -> None:
        if isinstance(event, Message):
            text.message(turn, event)
        elif isinstance(event, AgentLabel):
            text.label(turn, event)
        elif isinstance(event, Rating):
            text.rating(turn, event)
        elif isinstance(event, DraftFeedback):
            text.feedback(turn, event)
        elif isinstance(event, Subscription):
            tabular.subscription(turn, event)
