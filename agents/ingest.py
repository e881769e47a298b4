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
import numpy as np
import numpy.typing as npt
from faust.types import TableT
from mode import BaseSignalT

from agents.dedup import Limits as DedupLimits
from agents.dedup import PartitionIds, hash_id
from schemas.events import Event
from schemas.published import DeadLetter
from schemas.validate import Accepted, Limits, check
from streams.core import metrics
from streams.core.batches import batches, use
from streams.core.runtime import Runtime

log = logging.getLogger(__name__)
AGENT = "ingest"
TABLE = "dedup-ids"


class Ingest:
    """State and logic of the ingest agent, one instance per worker."""

    def __init__(self, runtime: Runtime, table: TableT[str, bytes]) -> None:
        settings = runtime.settings
        self.producer = runtime.app.producer
        self.events_name = runtime.settings.topic_name("events")
        self.dlq_topic = runtime.topics["dlq"]
        self.limits = Limits(settings.max_event_bytes, settings.max_future_skew_s)
        self.table = table
        self.dedup_limits = DedupLimits(
            float(settings.dedup_horizon_s), settings.dedup_max_ids, settings.dedup_seal_ids
        )
        self.indexes: dict[int, PartitionIds] = {}
        self._in = metrics.EVENTS_IN.labels(AGENT)
        self._forwarded = metrics.EVENTS_OUT.labels(AGENT, "events")
        self._latency = metrics.INGEST_LATENCY

    async def handle(self, events: list[faust.EventT[Any]]) -> None:
        """One batch of records; every record ends forwarded, dropped or dead-lettered.

        Validated first, then looked up in the dedup index (a whole partition's batch at
        once), forwarded in order; the batch's new ids are written to the table at its end.
        """
        now = datetime.now(UTC)
        counts = {"events": 0, "duplicates": 0, "rekeyed": 0}
        accepted: list[tuple[faust.EventT[Any], Event, int, bool]] = []
        last: dict[int, faust.EventT[Any]] = {}
        for event in events:
            message = event.message
            try:
                result = check(message.value, message.key, now, self.limits)
                if isinstance(result, Accepted):
                    ev = result.event
                    accepted.append((event, ev, hash_id(ev.event_id), result.rekeyed))
                    last[message.partition] = event
                else:
                    await self.dead_letter(message, result.reason_code, result.reason)
            except Exception as exc:
                await self._internal_error(message, exc)
        sealed = self._sealed_offsets(accepted)
        for i, (event, ev, digest, rekeyed) in enumerate(accepted):
            message = event.message
            try:
                index = self._index(message.partition)
                if not index.first_time(digest, message.offset, int(sealed[i])):
                    counts["duplicates"] += 1
                    continue
                counts["rekeyed"] += rekeyed
                # the app's producer directly: Faust's Topic.send costs ~3x more per
                # event, and Faust flushes it before every offset commit
                await self.producer.send(
                    self.events_name, ev.customer_id.encode(), message.value, None, None, None
                )
                counts["events"] += 1
                self._latency.observe(max(0.0, (now - ev.occurred_at).total_seconds()))
            except Exception as exc:
                await self._internal_error(message, exc)
        self._write_ids(last, now.timestamp())
        self._in.inc(len(events))  # counted once done
        self._forwarded.inc(counts["events"])
        metrics.DUPLICATES.inc(counts["duplicates"])
        metrics.REKEYED.inc(counts["rekeyed"])

    def _sealed_offsets(
        self, accepted: list[tuple[faust.EventT[Any], Event, int, bool]]
    ) -> npt.NDArray[np.int64]:
        """For each accepted record, the offset its id was first seen at in the sealed
        chunks of its partition (-1: not there), one vectorised lookup per partition."""
        out = np.full(len(accepted), -1, dtype=np.int64)
        rows: dict[int, list[int]] = {}
        for i, (event, *_rest) in enumerate(accepted):
            rows.setdefault(event.message.partition, []).append(i)
        self._load(set(rows))
        for partition, where in rows.items():
            index = self._index(partition)
            if index.sealed:
                wanted = np.fromiter(
                    (accepted[i][2] for i in where), dtype=np.uint64, count=len(where)
                )
                out[where] = index.sealed_offsets(wanted)
        return out

    def _write_ids(self, last: dict[int, faust.EventT[Any]], now: float) -> None:
        """Each partition's new ids (and seals, expiries) to the table, the changelog
        records in the partition's own changelog partition."""
        for partition, event in last.items():
            index = self.indexes.get(partition)
            if index is None:
                continue
            use(event)
            for key, value in index.end_batch(now):
                if value is None:
                    self.table.pop(key, None)
                else:
                    self.table[key] = value
        if last:
            indexes = self.indexes.values()
            metrics.DEDUP_ENTRIES.set(sum(i.size for i in indexes))
            oldest = [t for t in (i.oldest() for i in indexes) if t is not None]
            metrics.DEDUP_HORIZON.set(now - min(oldest) if oldest else 0.0)

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

    def _index(self, partition: int) -> PartitionIds:
        if partition not in self.indexes:
            self._load({partition})
        return self.indexes[partition]

    def _load(self, partitions: set[int]) -> None:
        """Rebuild the index of each partition not held yet (its first batch since start
        or assignment) from the table's records, all of them in one pass over the table."""
        missing = partitions - self.indexes.keys()
        if not missing:
            return
        found: dict[int, list[tuple[str, bytes]]] = {p: [] for p in missing}
        for key, value in self.table.items():
            head = key.partition(":")[0]
            records = found.get(int(head)) if head.isdigit() else None
            if records is not None:
                records.append((key, value))
        for partition, records in found.items():
            index = self.indexes[partition] = PartitionIds(partition, self.dedup_limits)
            for error in index.restore(records):
                log.error("ingest: %s", error)

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
    table = runtime.table(TABLE)
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
