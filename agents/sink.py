"""The sink agent: every topic with a table mapping, batched into ClickHouse.

One Faust agent per entry of :data:`ROUTES` (a topic role -> a converter of its
records to rows); adding a topic to ClickHouse is one entry there. Each agent takes
batches by size and time without acknowledging (``noack_take``), converts them,
runs the erasures they carry, writes the rows (waiting out ClickHouse outages:
backpressure), dead-letters the rows the store refused, and only then acknowledges
the batch: offsets are committed only after the insert succeeded. A crash before the
commit redelivers the batch; the idempotent sink stores it once.

No exception escapes: a batch that fails unexpectedly is retried, then
dead-lettered (``internal_error``); records of the ``dlq`` topic itself are never
dead-lettered again (they stay in that topic).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import faust

from schemas.examples import is_example
from schemas.published import DeadLetter
from sinks import metrics as sink_metrics
from sinks.base import Batch, BatchPolicy, Origin, RetryPolicy
from sinks.clickhouse import rows, rows_published
from sinks.clickhouse.sink import ClickHouseSink, QueryLimits
from sinks.clickhouse.tables import INTERACTIONS
from streams.core import metrics
from streams.core.address import advertised_url
from streams.core.batches import batches
from streams.core.runtime import Runtime
from streams.core.settings import ClickHouseSettings, TopicRole
from streams.core.sink_lease import RENEW_S, holder_of, lease_key, needs_lease, release, renew

log = logging.getLogger(__name__)
AGENT = "sink"
ATTEMPTS: Final = 3
"""Tries of a batch that fails unexpectedly before it is dead-lettered."""

ROUTES: Final[dict[TopicRole, rows.Converter]] = {
    "events": rows.from_event,
    "dlq": rows_published.from_dead_letter,
    "features": rows_published.from_features,
    "insights": rows_published.from_insight,
    "drafted_replies": rows_published.from_draft,
}

Refusal = tuple[Any, str, str]  # (message, reason_code, reason)


def build_sink(settings: ClickHouseSettings) -> ClickHouseSink:
    retry = RetryPolicy(
        settings.clickhouse_retry_backoff_s,
        settings.clickhouse_retry_backoff_max_s,
        settings.clickhouse_data_retries,
    )
    limits = QueryLimits(settings.clickhouse_sql_max_rows, settings.clickhouse_sql_timeout_s)
    return ClickHouseSink(
        settings.clickhouse_url,
        settings.clickhouse_database,
        retry,
        erasure_refresh_s=settings.clickhouse_erasure_refresh_s,
        limits=limits,
    )


class SinkAgent:
    """Converts batches of records, writes them, dead-letters what the store refused."""

    def __init__(self, runtime: Runtime, sink: ClickHouseSink) -> None:
        self.sink = sink
        self.dlq_topic = runtime.topics["dlq"]
        self.kill_after = runtime.settings.clickhouse_fault_kill_after_batches
        self.batches = 0

    async def handle(self, role: TopicRole, events: Sequence[faust.EventT[Any]]) -> None:
        """Write one batch; returns when every record is stored, refused or dead-lettered."""
        metrics.EVENTS_IN.labels(AGENT).inc(len(events))
        started = time.monotonic()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self._write(role, events)
                break
            except Exception as exc:  # no exception may escape an agent
                metrics.AGENT_ERRORS.labels(AGENT).inc()
                log.exception(
                    "sink batch of %d %s records failed (attempt %d/%d)",
                    len(events),
                    role,
                    attempt,
                    ATTEMPTS,
                )
                if attempt == ATTEMPTS:
                    reason = f"internal error in the sink: {type(exc).__name__}: {exc}"
                    await self._refuse(
                        role, [(e.message, "internal_error", reason) for e in events]
                    )
                else:
                    await asyncio.sleep(self.sink.retry.delay(attempt))
        sink_metrics.FLUSH_SECONDS.labels(self.sink.name).observe(time.monotonic() - started)
        sink_metrics.BATCH_ROWS.labels(self.sink.name).observe(len(events))

    async def _write(self, role: TopicRole, events: Sequence[faust.EventT[Any]]) -> None:
        convert = ROUTES[role]
        batch, refused = Batch(), list[Refusal]()
        messages: dict[Origin, Any] = {}
        for event in events:
            message = event.message
            if role == "events" and is_example(message.key):
                continue  # the scoring stage's shared labels: no interaction
            origin = Origin(message.topic, message.partition, message.offset)
            out = convert(message.value, origin)
            if out.rejection is not None:
                refused.append((message, *out.rejection))
                continue
            if out.erasure is not None:
                await self.sink.erase(out.erasure)
            for table, row in out.rows:
                batch.add(table, row, origin)
            messages[origin] = message
        for rejected in await self.sink.write(batch):
            refused.append((messages[rejected.origin], rejected.reason_code, rejected.reason))
        await self._refuse(role, refused)
        self._fault_point()

    def _fault_point(self) -> None:
        self.batches += 1
        if self.kill_after and self.batches >= self.kill_after:
            log.warning(
                "fault injection: SIGKILL after %d sink batches, before commit", self.batches
            )
            os.kill(os.getpid(), signal.SIGKILL)

    async def _refuse(self, role: TopicRole, refused: list[Refusal]) -> None:
        for message, code, reason in refused:
            metrics.DEAD_LETTERS.labels(code).inc()
            if role == "dlq":
                log.error(
                    "dead letter %s[%d]@%d not stored: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    reason,
                )
                continue
            letter = DeadLetter.build(
                raw=message.value or b"",
                key=message.key,
                reason=reason,
                reason_code=code,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                now=datetime.now(UTC),
            )
            await self.sink.retrying(
                "dead letter", self._send, message.key, letter.model_dump_json().encode()
            )
            metrics.EVENTS_OUT.labels(AGENT, "dlq").inc()

    async def _send(self, key: bytes | None, value: bytes) -> None:
        await (await self.dlq_topic.send(key=key, value=value))


def register(runtime: Runtime) -> SinkAgent:
    """One agent per route, all writing through one sink (``agent.sink``)."""
    settings = runtime.settings
    sink = build_sink(settings)
    sink.time_columns["interactions"] = INTERACTIONS.names.index("occurred_at")
    agent = SinkAgent(runtime, sink)
    policy = BatchPolicy(settings.clickhouse_batch_size, settings.clickhouse_flush_interval_s)
    for role in ROUTES:
        _add_agent(runtime, agent, role, policy)
    if needs_lease(settings):
        _hold_lease(runtime)
    return agent


def _hold_lease(runtime: Runtime) -> None:
    """Renew the chDB writer lease (taken at start, :mod:`streams.core.sink_lease`) while
    the worker runs; give it back at shutdown."""
    settings = runtime.settings
    me = holder_of(settings, advertised_url(settings))

    async def renew_lease() -> None:
        try:
            if not await asyncio.to_thread(renew, settings, me):
                log.error("sink: another store holds the chDB writer lease %s", lease_key(settings))
        except Exception:
            log.exception("sink: could not renew the chDB writer lease")

    async def _release(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        try:
            await asyncio.to_thread(release, settings, me)
        except Exception:
            log.exception("sink: could not release the chDB writer lease")

    runtime.app.timer(RENEW_S, name="sink-lease")(renew_lease)
    runtime.app.on_before_shutdown.connect(_release)


def _add_agent(runtime: Runtime, agent: SinkAgent, role: TopicRole, policy: BatchPolicy) -> None:
    async def sink_agent(stream: faust.StreamT[bytes]) -> None:
        await agent.sink.open()
        # acknowledged when the next batch is asked for: once this one is written
        async for events in batches(stream, policy.max_rows, policy.max_age_s):
            await agent.handle(role, events)

    runtime.app.agent(runtime.topics[role], name=f"{AGENT}-{role}")(sink_agent)
