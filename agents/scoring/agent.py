"""The scoring agent: River models on every applied event, insights to the insights topic.

Data flow: ``events`` -> [features] -> [scoring] -> ``insights``. The feature agent
calls :meth:`ScoringAgent.on_event` right after it applied an event (its
``on_applied`` hook), so scoring sees the customer's fresh features and fills the
model-output slot while the event is current; the logic is :mod:`agents.scoring.scorer`
(what is published: :mod:`agents.scoring.publish`).

**Layout**: one model set per partition of ``events`` (a customer's events all
land in one partition, so a set sees whole histories and moves with its partition).
A set is restored lazily from its checkpoint when its partition's first event
arrives after a start or a rebalance (:mod:`agents.scoring.checkpoints`).

**Metrics**: every ``models_metrics_interval_s`` the scoring tick publishes each set's
prequential figures, overall and by segment, as ``metrics_{model}`` insights
(:mod:`agents.scoring.report`), for the models with new labelled examples.

**Lifecycle**: every ``models_checkpoint_interval_s`` the sets that learnt are
checkpointed (HMAC-signed, ``RAPPORT_MODELS_CHECKPOINT_KEY``) to Redis
(:mod:`agents.scoring.store`); revoked partitions are checkpointed and dropped before
the rebalance completes, and every set at shutdown (after the consumer stopped). A
crash loses at most one interval of learning: the redelivered events since the last
commit are scored again (same insight ids), those since the checkpoint are learnt.

**Churn holds** live in the ``churn-holds`` table (changelog-backed, co-partitioned
with ``events``, written while the event is processed), not in the checkpoint: a
restored set's join is attached to it (:meth:`agents.scoring.scorer.Scorer.adopt`), keeps
every hold opened before the crash and relearns the outcomes closed after its
checkpoint (:mod:`online_models.delayed`).

Insights are sent without waiting for the broker's ack (Faust flushes the producer
before it commits offsets). Nothing escapes: a failure is logged and counted
(``rapport_scoring_errors_total``) and the event's features stay applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, Final

from faust.streams import current_event
from mode import BaseSignalT

from agents.customer_features.agent import FeatureAgent
from agents.scoring import metrics as sm
from agents.scoring.checkpoints import Checkpoints
from agents.scoring.report import BiasRule, MetricsReporter
from agents.scoring.scorer import EngineFeatures, Scorer
from agents.scoring.state import ModelConfig, PartitionModels
from agents.scoring.store import ModelStore
from features.engine import Status
from online_models.warm import WarmStart
from online_models.warm import load as warm_load
from schemas.events import Event
from schemas.examples import EXAMPLE_KEY, Example
from schemas.published import Insight
from streams.core import metrics
from streams.core.batches import use
from streams.core.runtime import Runtime
from streams.core.settings import Settings
from streams.core.write_behind import WriteBehind

log = logging.getLogger(__name__)
AGENT: Final = "scoring"
HOLDS: Final = "churn-holds"
"""The churn delayed-label join's table (customer id -> encoded hold)."""
SCORED: Final = frozenset({"applied", "late", "replayed", "erasure"})
"""Feature outcomes the scorer sees (duplicates and refused events are not scored)."""
FLUSH_TIMEOUT_S: Final = 10.0
"""How long a checkpoint waits for the producer's acknowledgements before saving without
moving ``published_through``."""
TICK_S: Final = 5.0
"""How often metrics are refreshed and due checkpoints written."""


def config_of(settings: Settings) -> ModelConfig:
    return ModelConfig(
        churn_horizon_s=settings.models_churn_horizon_s,
        anomaly_quantile=settings.models_anomaly_quantile,
        recent_texts=settings.models_recent_texts,
        max_customers=settings.models_max_customers,
        publish_every=settings.models_publish_every,
        churn_min_change=settings.models_churn_min_change,
        lateness_s=settings.features_allowed_lateness_s,
    )


def warm_start(settings: Settings) -> WarmStart | None:
    """The warm-start snapshot new partition sets begin from, or None (cold), said once."""
    path = settings.warm_start_file
    if not settings.models_warm_start:
        return None
    if not path.is_file():
        log.info(
            "scoring: no warm-start snapshot at %s: text models start cold "
            "(`rapport models warm-start` builds it)",
            path,
        )
        return None
    try:
        key = settings.models_checkpoint_key.get_secret_value().encode()
        warm = warm_load(path.read_bytes(), key)
    except Exception as exc:  # a bad signature, foreign bytes, another code's pickle
        log.error("scoring: warm-start snapshot %s refused, starting cold: %s", path, exc)
        return None
    log.info("scoring: text models start from %s (%s)", warm.snapshot, path)
    return warm


class ScoringAgent:
    """Scorer, checkpoints and the insights producer of one worker."""

    def intent_of(self, partition: int, text: str) -> tuple[str, float] | None:
        """The partition's intent model on ``text`` (predict only): its label and
        confidence, or None while it abstains. Before the partition's set is restored
        or made (at its first scored event) the warm-start snapshot answers, if any."""
        models = self.scorer.sets.get(partition)
        if models is not None:
            model = models.models["intent"]
        elif self.scorer.warm is not None:
            model = self.scorer.warm.models["intent"]  # read only: sets learn on copies
        else:
            return None
        found = model.predict_one({"text": text})
        if found.value is None:
            return None
        return str(found.value), float(found.confidence or 0.0)

    def __init__(self, runtime: Runtime, features: FeatureAgent, holds: Any) -> None:
        settings = runtime.settings
        self.app = runtime.app
        self.insights_name = settings.topic_name("insights")
        self.events_name = settings.topic_name("events")
        self.partitions = settings.topic_partitions
        source = EngineFeatures(features.engine, features.rules)
        self.scorer = Scorer(
            config_of(settings),
            source,
            holds=holds,
            coalesce=settings.models_coalesce,
            warm=warm_start(settings),
        )
        self.contexts: dict[str, Any] = {}
        """Each waiting customer's last Faust event (its table writes go to its partition)."""
        self.store = ModelStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix)
        key = settings.models_checkpoint_key.get_secret_value().encode()
        self.checkpoints = Checkpoints(self.store, key, self.scorer.fresh)
        self.interval = settings.models_checkpoint_interval_s
        self.last_save = time.monotonic()
        self.reporter = MetricsReporter(
            settings.models_metrics_interval_s,
            started=self.last_save,
            bias=BiasRule(settings.models_bias_min_ratio, settings.models_bias_min_examples),
        )
        self.lock = asyncio.Lock()
        self.sending = 0
        """Scorings whose insights are being handed to the producer (a checkpoint taken
        meanwhile does not move ``published_through``)."""
        self._out = metrics.EVENTS_OUT.labels(AGENT, "insights")
        self._in = metrics.EVENTS_IN.labels(AGENT)
        self._stage = metrics.INSIGHT_STAGE

    async def on_event(self, event: Event, partition: int, offset: int, status: Status) -> None:
        """Score one event the feature agent applied (its ``on_applied`` hook)."""
        if status not in SCORED:
            return
        self._in.inc()
        self.sending += 1  # until its insights are all handed to the producer
        try:
            if partition not in self.scorer.sets:
                self.scorer.adopt(await self.checkpoints.restore(partition))
            started = time.perf_counter()
            insights = self.scorer.score(event, partition, offset)
            if event.customer_id in self.scorer.pending:
                self.contexts[event.customer_id] = current_event()
            for insight in insights:
                await self._send(insight)
            for example in self.scorer.take_examples():
                await self._share(example)
            if insights:
                metrics.INSIGHT_STAGE.observe(metrics.since(event.occurred_at))
            sm.SCORE_SECONDS.observe(time.perf_counter() - started)
        except Exception:
            sm.ERRORS.inc()
            metrics.AGENT_ERRORS.labels(AGENT).inc()
            log.exception(
                "scoring failed on %s (partition %d @%d)", event.event_id, partition, offset
            )
        finally:
            self.sending -= 1

    async def on_example(self, value: bytes | None, partition: int, offset: int) -> None:
        """Learn a labelled example another partition shared (its ``on_example`` hook)."""
        try:
            if partition not in self.scorer.sets:
                self.scorer.adopt(await self.checkpoints.restore(partition))
            self.scorer.learn_example(Example.decode(value), partition, offset)
        except Exception:
            sm.ERRORS.inc()
            metrics.AGENT_ERRORS.labels(AGENT).inc()
            log.exception("scoring: shared example at partition %d @%d failed", partition, offset)

    async def _share(self, example: Example) -> None:
        """A copy of a labelled example to every other partition of ``events``."""
        value = example.encode()
        for partition in range(self.partitions):
            if partition != example.origin:
                await self.app.producer.send(
                    self.events_name, EXAMPLE_KEY, value, partition, None, None
                )
        sm.EXAMPLES_SHARED.labels(example.model).inc()

    async def end_batch(self) -> None:
        """The behaviour steps the batch's events left waiting, one per customer."""
        if not self.scorer.pending:
            return
        contexts, self.contexts = self.contexts, {}
        self.sending += 1
        try:
            insights = self.scorer.flush(before=lambda cid: use(contexts[cid]))
            for insight in insights:
                await self._send(insight)
                self._stage.observe(metrics.since(insight.occurred_at))
        except Exception:
            sm.ERRORS.inc()
            metrics.AGENT_ERRORS.labels(AGENT).inc()
            log.exception("scoring failed at the end of a batch")
        finally:
            self.sending -= 1

    async def _send(self, insight: Insight) -> None:
        value = insight.model_dump_json().encode()
        key = insight.customer_id.encode()
        await self.app.producer.send(self.insights_name, key, value, None, None, None)
        sm.INSIGHTS.labels(insight.model).inc()
        self._out.inc()

    # --- checkpoints and metrics
    async def tick(self) -> None:
        """Refresh the metrics, publish due metrics insights; checkpoint every set once
        the interval has passed."""
        sets = list(self.scorer.sets.values())
        for models in sets:
            export(models)
        for found in self.reporter.due(time.monotonic(), sets, datetime.now(UTC)):
            await self._send(found)
            sm.METRICS_INSIGHTS.labels(found.model.removeprefix("metrics_")).inc()
        if time.monotonic() - self.last_save >= self.interval:
            await self.save(set(self.scorer.sets))
            self.last_save = time.monotonic()

    async def save(self, partitions: set[int], *, drop: bool = False) -> None:
        """Checkpoint the sets of ``partitions``, each with the offset through which its
        insights are acknowledged (``published_through``): noted before the producer's
        flush (with no behaviour step of the partition waiting and no scoring handing its
        insights to the producer), so every insight of an event up to it was sent before
        the flush returned. A re-read event up to that
        offset (a rewind, or a redelivery after a crash) publishes no behaviour insight
        again: the rule-governed ones (churn, segment, anomaly) would otherwise appear
        for events whose insight the rule had suppressed."""
        async with self.lock:
            marks = {
                p: models.offset
                for p in partitions
                if (models := self.scorer.sets.get(p)) is not None
                and not self.scorer.waiting_in(p)
                and not self.sending  # a scored event's insights may not be sent yet
            }
            try:  # bounded: a broker outage must not hold checkpoints (or the shutdown)
                await asyncio.wait_for(self.app.producer.flush(), FLUSH_TIMEOUT_S)
            except Exception as exc:  # no acknowledgement known: the marks stay as they were
                log.warning("scoring: producer flush before a checkpoint failed (%r)", exc)
                marks = {}
            for partition in sorted(partitions):
                models = self.scorer.sets.get(partition)
                if models is None:
                    continue
                mark = marks.get(partition, -1)
                models.published_through = max(models.published_through, mark)
                await self.checkpoints.save(models)
                if drop:
                    del self.scorer.sets[partition]
                    self.checkpoints.forget(partition)

    async def revoked(self, partitions: set[int]) -> None:
        await self.save(partitions, drop=True)
        self.reporter.forget(partitions)
        for partition in partitions:
            sm.forget_partition(partition)
        log.info("scoring: partitions %s checkpointed and released", sorted(partitions))

    async def shutdown(self) -> None:
        await self.save(set(self.scorer.sets))
        await self.store.close()


def export(models: PartitionModels) -> None:
    """Model versions, prequential figures and pending churn holds of one set."""
    partition = str(models.partition)
    for name, model in models.models.items():
        sm.MODEL_VERSION.labels(name, partition).set(model.version)
    for name, monitor in models.monitors.items():
        report = monitor.report()
        sm.PREQUENTIAL_N.labels(name, partition).set(report["n"])
        for metric in monitor.overall:
            sm.PREQUENTIAL.labels(name, partition, metric, "all").set(report[metric])
        for segment, figures in report["by_segment"].items():
            for metric, value in figures.items():
                sm.PREQUENTIAL.labels(name, partition, metric, segment).set(value)
    sm.PENDING_CHURN.labels(partition).set(len(models.join))


def register(runtime: Runtime, features: FeatureAgent) -> ScoringAgent:
    """Hook the scorer into the feature agent; timer, revocation and shutdown handlers."""
    app, settings = runtime.app, runtime.settings
    holds = runtime.table(HOLDS)
    behind = WriteBehind(holds)  # written once per customer per batch, with the features
    features.behind.append(behind)
    agent = ScoringAgent(runtime, features, behind)
    features.on_applied = agent.on_event
    features.on_example = agent.on_example
    features.on_batch_end = agent.end_batch

    async def _recovered() -> None:
        agent.scorer.rescan()

    holds.on_recover(_recovered)

    async def _revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", set())
        try:
            await agent.revoked(
                {tp.partition for tp in revoked if tp.topic == features.events_name}
            )
        except Exception:
            log.exception("scoring: checkpoint on revocation failed")

    async def _shutdown(
        sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
    ) -> None:
        try:
            await agent.shutdown()
        except Exception:
            log.exception("scoring: checkpoint at shutdown failed")

    async def scoring_tick() -> None:
        try:
            await agent.tick()
        except Exception:
            log.exception("scoring: checkpoint tick failed")

    app.on_partitions_revoked.connect(_revoked)
    app.on_before_shutdown.connect(_shutdown)
    app.timer(min(TICK_S, settings.models_checkpoint_interval_s), name="scoring-tick")(scoring_tick)
    return agent
