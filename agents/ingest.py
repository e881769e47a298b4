"""The ingest agent: raw bytes in; valid, de-duplicated events out, keyed by customer.

Every record ends in exactly one of: forwarded to ``events``, dropped as a duplicate
(counted), or dead-lettered with its original bytes and a specific reason.
No exception escapes the agent: an unexpected error dead-letters the record.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TableT
from mode import BaseSignalT

from agents.dedup import HorizonIndex, Seen
from schemas.published import DeadLetter
from schemas.validate import Accepted, Limits, check
from streams import metrics
from streams.app import Runtime
from streams.batches import batches, use

log = logging.getLogger(__name__)
AGENT = "ingest"


class Ingest:
    """State and logic of the ingest agent, one instance per worker."""

    def __init__(self, runtime: Runtime, table: TableT[str, str]) -> None:
        settings = runtime.settings
        self.producer = runtime.app.producer
        self.events_name = runtime.settings.topic_name("events")
        self.dlq_topic = runtime.topics["dlq"]
        self.limits = Limits(settings.max_event_bytes, settings.max_future_skew_s)
        self.table = table
        self.horizon_s = float(settings.dedup_horizon_s)
        self.indexes: dict[int, HorizonIndex] = {}
        self._in = metrics.EVENTS_IN.labels(AGENT)
        self._forwarded = metrics.EVENTS_OUT.labels(AGENT, "events")
        self._latency = metrics.INGEST_LATENCY

    async def handle(self, events: list[faust.EventT[Any]]) -> None:
        """One batch of records; every record ends forwarded, dropped or dead-lettered."""
        now = datetime.now(UTC)
        counts = {"events": 0, "duplicates": 0, "rekeyed": 0}
        for event in events:
            message = event.message
            use(event)  # the dedup table's changelog goes to this record's partition
            try:
                await self._process(message, now, counts)
            except Exception as exc:
                await self._internal_error(message, exc)
        self._in.inc(len(events))  # counted once done
        self._forwarded.inc(counts["events"])
        metrics.DUPLICATES.inc(counts["duplicates"])
        metrics.REKEYED.inc(counts["rekeyed"])

    async def _internal_error(self, message: faust.types.Message, exc: Exception) -> None:
        metrics.AGENT_ERRORS.labels(AGENT).inc()
        log.exception(
            "ingest failed on %s[%d]@%d", message.topic, message.partition, message.offset
        )
        try:
            await self.dead_letter(
                message, "internal_error", f"internal error: {type(exc).__name__}: {exc}"
            )
        except Exception:
            # last resort: the broker refuses even the dead letter; say exactly what
            metrics.DEAD_LETTER_FAILURES.inc()
            log.exception(
                "could not dead-letter %s[%d]@%d",
                message.topic,
                message.partition,
                message.offset,
            )

    async def _process(
        self, message: faust.types.Message, now: datetime, counts: dict[str, int]
    ) -> None:
        result = check(message.value, message.key, now, self.limits)
        if not isinstance(result, Accepted):
            await self.dead_letter(message, result.reason_code, result.reason)
            return
        ev = result.event
        if not self._first_time(ev.event_id, message.partition, message.offset, now.timestamp()):
            counts["duplicates"] += 1
            return
        if result.rekeyed:
            counts["rekeyed"] += 1
        # the app's producer directly: Faust's Topic.send costs ~3x more per event, and
        # Faust flushes this producer before every offset commit (at-least-once holds)
        await self.producer.send(
            self.events_name, ev.customer_id.encode(), message.value, None, None, None
        )
        counts["events"] += 1
        self._latency.observe(max(0.0, (now - ev.occurred_at).total_seconds()))

    def _first_time(self, event_id: str, partition: int, offset: int, now: float) -> bool:
        index = self._index(partition)
        for old in index.expired(now):
            self.table.pop(old, None)
        seen = self.table.get(event_id)
        if seen is not None:
            first = Seen.decode(seen)
            return (first.partition, first.offset) == (partition, offset)
        self.table[event_id] = Seen(partition, offset, now).encode()
        index.add(event_id, now)
        return True

    def _index(self, partition: int) -> HorizonIndex:
        index = self.indexes.get(partition)
        if index is None:
            # first event of this partition since start or assignment: rebuild from the table
            index = HorizonIndex(self.horizon_s)
            entries = []
            for event_id, raw in self.table.items():
                seen = Seen.decode(raw)
                if seen.partition == partition:
                    entries.append((seen.at, event_id))
            index.entries.extend(sorted(entries))
            self.indexes[partition] = index
            metrics.DEDUP_ENTRIES.set(sum(len(i.entries) for i in self.indexes.values()))
        return index

    def forget_partitions(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.indexes.pop(partition, None)

    async def dead_letter(self, message: faust.types.Message, code: str, reason: str) -> None:
        """Send the record's original bytes with the reason, and wait until Kafka has it."""
        raw = message.value or b""
        record = DeadLetter.build(
            raw=raw,
            key=message.key,
            reason=reason,
            reason_code=code,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            now=datetime.now(UTC),
        )
        metrics.DEAD_LETTERS.labels(code).inc()
        try:
            await (
                await self.dlq_topic.send(key=message.key, value=record.model_dump_json().encode())
            )
        except Exception as exc:
            log.warning("dead letter of %d bytes refused (%s); sending its digest", len(raw), exc)
            digest = record.model_copy(
                update={
                    "payload": "",
                    "payload_encoding": "utf-8",
                    "reason": f"{reason} [payload not kept: {len(raw)} bytes, "
                    f"sha256 {hashlib.sha256(raw).hexdigest()}: {type(exc).__name__}]",
                }
            )
            await (
                await self.dlq_topic.send(key=message.key, value=digest.model_dump_json().encode())
            )
        metrics.EVENTS_OUT.labels(AGENT, "dlq").inc()


def register(runtime: Runtime) -> Ingest:
    app, settings = runtime.app, runtime.settings
    table = app.Table(
        "dedup",
        key_type=str,
        value_type=str,
        default=None,
        partitions=runtime.settings.topic_partitions,
    )
    ingest = Ingest(runtime, table)

    async def _revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        revoked = args[0] if args else kwargs.get("revoked", set())
        ingest.forget_partitions({tp.partition for tp in revoked})

    app.on_partitions_revoked.connect(_revoked)

    async def ingest_agent(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.batch_max_events, settings.batch_linger_s):
            await ingest.handle(batch)

    app.agent(runtime.topics["interactions"], name=AGENT)(ingest_agent)
    return ingest
