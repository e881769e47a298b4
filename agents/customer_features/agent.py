"""The feature agent: ``events`` in, one feature state per customer in a Faust table.

Each event is applied by :class:`features.engine.FeatureEngine` to the customer's
state in the ``features`` table (changelog-backed, RocksDB store), written while
the event is being processed, so the changelog record lands in the event's own
partition. Redelivered records and re-forwarded copies are skipped (see the
engine); erasures delete the entry (a tombstone) and keep a marker in the
``features-erasures`` table. Each partition is read without holes: records Faust
drops around a rebalance are read back from Kafka
(:mod:`agents.customer_features.partitions`). A timer publishes the changed customers
to Redis and the compacted ``features`` topic (:mod:`features.publisher`); after every
recovery the worker republishes all customers of its partitions.

No exception escapes the agent: an event it cannot parse, or an unexpected error,
is dead-lettered with its original bytes and the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, get_args

import faust
from aiokafka.partitioner import DefaultPartitioner
from mode import BaseSignalT
from pydantic import ValidationError

from agents.customer_features.partitions import Partitions, RawRecord
from features import metrics as fmetrics
from features.definitions import Rules, Vector
from features.engine import FeatureEngine, Status
from features.publisher import Publisher
from features.state import CustomerState, StateError
from features.store import FeatureStore
from features.vector import vector
from schemas.events import Event, parse_event
from schemas.examples import is_example
from schemas.published import DeadLetter
from streams.core import metrics
from streams.core.batches import batches, use
from streams.core.runtime import Runtime, tables_ready
from streams.core.settings import FeatureSettings
from streams.core.write_behind import WriteBehind

log = logging.getLogger(__name__)
PARTITIONER = DefaultPartitioner()
"""Kafka's default partitioner (murmur2 of the key), as the producer applies it."""
AGENT = "features"
TABLE = "features"
ERASURES = "features-erasures"
AppliedHook = Callable[[Event, int, int, Status], Awaitable[None]]
"""Called with each parsed event, its partition, offset and outcome (e.g. scoring)."""
ExampleHook = Callable[[bytes | None, int, int], Awaitable[None]]
"""Called with each shared labelled example's value, its partition and offset."""


def rules_of(settings: FeatureSettings) -> Rules:
    return Rules(
        lateness_s=settings.features_allowed_lateness_s,
        cart_abandon_s=settings.features_cart_abandon_s,
        base_currency=settings.features_base_currency,
    )


class FeatureAgent:
    """State and wiring of the feature agent, one instance per worker."""

    def __init__(self, runtime: Runtime, table: Any, erasures: Any) -> None:
        settings = self.settings = runtime.settings
        self.app = runtime.app
        self.table = table
        self.events_name = settings.topic_name("events")
        self.features_name = settings.topic_name("features")
        self.dlq_topic = runtime.topics["dlq"]
        self.rules = rules_of(settings)
        self.states = WriteBehind(table)
        """The engine's view of the table: one write per dirty customer per batch."""
        self.engine = FeatureEngine(
            self.states,
            erasures,
            self.rules,
            dedup_span=settings.features_dedup_span,
            cache_max=settings.features_cache_customers,
        )
        self.behind: list[WriteBehind] = [self.states]
        """Tables flushed after every batch (scoring adds the churn holds)."""
        self.store = FeatureStore(
            settings.redis_url.get_secret_value(),
            settings.redis_key_prefix,
            settings.features_redis_ttl_s,
        )
        self.publisher = Publisher(
            self.store,
            self._send_snapshot,
            self.rules,
            snapshot_interval_s=settings.features_snapshot_interval_s,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.partitions = Partitions(settings, self.events_name, self.engine)
        self._consumed = metrics.EVENTS_IN.labels(AGENT)
        self._outcomes = {s: fmetrics.OUTCOMES.labels(s) for s in get_args(Status)}
        self.on_applied: AppliedHook | None = None
        self.on_example: ExampleHook | None = None
        self.on_batch_end: Callable[[], Awaitable[None]] | None = None
        """Called after a batch's events were applied, before its tables are written."""

    # --- the stream
    async def handle(self, events: list[faust.EventT[Any]]) -> None:
        """One batch: each event applied in order, then each dirty state written once."""
        try:
            for event in events:
                use(event)
                await self._handle_one(event.message)
            if self.on_batch_end is not None:
                await self.on_batch_end()
        finally:
            for table in self.behind:
                table.flush()
        self._consumed.inc(len(events))  # counted once done
        fmetrics.CACHED_STATES.set(len(self.engine.cache))

    async def _handle_one(self, message: faust.types.Message) -> None:
        try:
            await self._process(message)
        except Exception as exc:
            metrics.AGENT_ERRORS.labels(AGENT).inc()
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            log.exception("features failed on %s", where)
            try:
                reason = f"internal error: {type(exc).__name__}: {exc}"
                raw = RawRecord(message.offset, message.key, message.value)
                await self.dead_letter(message.partition, raw, "internal_error", reason)
            except Exception:
                metrics.DEAD_LETTER_FAILURES.inc()
                log.exception("could not dead-letter %s", where)

    async def _process(self, message: faust.types.Message) -> None:
        partition = message.partition
        for record in await self.partitions.missed(partition, message.offset):
            await self._apply(partition, record)
        await self._apply(partition, RawRecord(message.offset, message.key, message.value))

    async def _apply(self, partition: int, record: RawRecord) -> None:
        """Apply one record of the events topic; dead-letter it if it is not an event.
        A shared labelled example (``schemas.examples``) goes to the scoring stage only."""
        if is_example(record.key):
            if self.on_example is not None:
                await self.on_example(record.value, partition, record.offset)
            return
        if not record.value:
            await self.dead_letter(partition, record, "empty_payload", "payload: empty")
            return
        try:
            event = parse_event(record.value)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            await self.dead_letter(partition, record, "invalid_event", f"{where}: {first['msg']}")
            return
        outcome = self.engine.process(event, partition, record.offset)
        self._outcomes[outcome.status].inc()
        if outcome.status in ("applied", "late"):
            metrics.FEATURES_STAGE.observe(metrics.since(event.occurred_at))
        if outcome.size:
            fmetrics.STATE_BYTES.observe(outcome.size)
        if outcome.status == "erasure":
            self.publisher.erased(outcome.customer_id, partition)
        elif outcome.status in ("applied", "late", "replayed"):
            self.publisher.changed(outcome.customer_id)
        if self.on_applied is not None:
            await self.on_applied(event, partition, record.offset, outcome.status)

    async def dead_letter(self, partition: int, record: RawRecord, code: str, reason: str) -> None:
        letter = DeadLetter.build(
            raw=record.value or b"",
            key=record.key,
            reason=reason,
            reason_code=code,
            topic=self.events_name,
            partition=partition,
            offset=record.offset,
            now=datetime.now(UTC),
        )
        metrics.DEAD_LETTERS.labels(code).inc()
        await (await self.dlq_topic.send(key=record.key, value=letter.model_dump_json().encode()))
        metrics.EVENTS_OUT.labels(AGENT, "dlq").inc()

    # --- partitions and publishing
    def active_partitions(self) -> set[int]:
        try:
            actives = self.app.assignor.assigned_actives()
        except Exception:
            return set()
        return {tp.partition for tp in actives if tp.topic == self.events_name}

    def revoked(self, partitions: set[int]) -> None:
        self.partitions.forget(partitions)
        self.engine.forget(partitions)
        self.publisher.forget_all()

    async def on_recovered(self) -> None:
        """Recovery done, streams not resumed yet: prepare the new partitions now (see
        ``agents.customer_features.partitions``) and republish every customer in the background."""
        await self.partitions.prepare(self.active_partitions())
        task = asyncio.ensure_future(self._resync())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resync(self) -> None:
        """Mark every customer of this worker's partitions for republishing."""
        try:
            customers = list(self.table.keys())
        except Exception:
            log.exception("features: resync could not list the table")
            return
        for customer_id in customers:
            self.publisher.changed(customer_id)
        log.info("features: resync of %d customers queued", len(customers))

    def read_state(self, customer_id: str) -> CustomerState | None:
        """A state for the flush and the web view: None while a rebalance runs."""
        if not tables_ready(self.app):
            return None
        try:
            return self.engine.state(customer_id, keep=False)
        except StateError:
            log.exception("features: unreadable state of %s", customer_id)
            return None

    async def flush(self) -> None:
        if not tables_ready(self.app):
            return
        await self.publisher.flush(self.read_state, self.active_partitions)

    async def _send_snapshot(self, customer_id: str, value: bytes | None) -> None:
        await self.app.producer.send(
            self.features_name, customer_id.encode(), value, None, None, None
        )

    # --- reads for the web view
    def partition_of(self, customer_id: str) -> int:
        """The customer's partition: its events' (keyed by the raw id), hence its state's.

        The producer's own partitioner over ``RAPPORT_TOPIC_PARTITIONS`` (the count the
        start-up check holds the topics to), not its metadata: a worker that has not
        produced to ``events`` yet has none for it, and the lookup would fail."""
        partitions = list(range(self.settings.topic_partitions))
        return int(PARTITIONER(customer_id.encode(), partitions, partitions))

    def owns(self, customer_id: str) -> bool:
        return self.partition_of(customer_id) in self.active_partitions()

    def owner(self, customer_id: str) -> str | None:
        """URL of the worker holding the customer's state as an active partition.

        Not ``app.router.key_store``: Faust hashes the JSON-serialized table key, while
        the state lives in the partition of the raw key (the event's partition).
        """
        partition = self.partition_of(customer_id)
        for url, topics in self.app.router.table_metadata(TABLE).items():
            if any(partition in partitions for partitions in topics.values()):
                return str(url)
        return None

    def local_features(self, customer_id: str) -> tuple[Vector, CustomerState] | None:
        state = self.read_state(customer_id)
        return None if state is None else (vector(state, self.rules), state)


def register(runtime: Runtime) -> FeatureAgent:
    app, settings = runtime.app, runtime.settings
    table = runtime.table(TABLE)
    erasures = runtime.table(ERASURES)
    agent = FeatureAgent(runtime, table, erasures)

    async def _revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", set())
        agent.revoked({tp.partition for tp in revoked if tp.topic == agent.events_name})

    app.on_partitions_revoked.connect(_revoked)
    table.on_recover(agent.on_recovered)

    async def features_agent(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.batch_max_events, settings.batch_linger_s):
            await agent.handle(batch)

    async def features_flush() -> None:
        try:
            await agent.flush()
        except Exception:
            log.exception("features: flush failed")

    app.agent(runtime.topics["events"], name=AGENT)(features_agent)
    app.timer(settings.features_flush_interval_s, name="features-flush")(features_flush)
    return agent
