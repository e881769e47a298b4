"""The consumer's dispatch of fetched records to the agents' queues, without a task per record.

Faust's fetch loop (``Consumer._drain_messages``) hands every record to the conductor
through ``wait_first(callback(message), suspend_flow.wait())``: four tasks and an
``asyncio.wait`` per record (57-74 us on the 2-core machine), so that a delivery
blocked on a full queue, on the producer buffer or on suspended flow control is
interrupted when a rebalance stops the flow. :func:`fast_dispatch` keeps that path for
exactly those cases and awaits the callback directly when none of them holds: flow
active, the producer buffer under its bound, and room in every queue the record goes
to. The conductor's callback then runs to its end without suspending (the event loop
is single-threaded, so nothing changes the conditions in between), and nothing else
about the loop changes: read offsets, gaps, the commit every N acks, the yield every
100 records.

A slow agent's full queue never blocks the other agents: drafting waits seconds on the
LLM per record, and since one loop dispatches every topic, its full queue would stop them
all. The records of the topics a slow agent reads (``parks``: ``reply-requests``) are
**parked** instead when their queue is full (:class:`Parking`): fetching from the
partition is paused and the record, with the ones of that partition that follow it in
fetches already made, waits in order in memory (at most what was fetched: they were in
memory anyway). Before each fetch, a partition whose queues are at most half full gets
its parked records delivered, in order, until a queue is full again; once none is left,
fetching from it resumes. Parked records are fetched, not acked: the commit rule of
:mod:`streams.commit_rule` stops below them, so a crash reads them again. A rebalance
drops them (the new assignment seeks to the committed offsets, and Faust resumes the
partitions once their tables are recovered). The hot path's topics keep Faust's rule (a
record waits for room in a full queue: its agents are the pipeline itself), as do flow
control suspended (a rebalance) and a full producer buffer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types import TP, AppT, Message
from mode import Service, ServiceT
from prometheus_client import Counter, Gauge

from streams.seek_fence import SeekFence

log = logging.getLogger(__name__)
YIELD_EVERY = 100
"""Records dispatched between two yields to the event loop (Faust's figure)."""
PARKED_POLL_S = 0.02
"""The longest a fetch waits for records while records are parked (see :class:`Parking`)."""

SLOW_DISPATCHES = Counter(
    "rapport_dispatch_slow_total",
    "Records handed to the agents through the interruptible path (a full queue of the hot "
    "path, a full producer buffer or suspended flow)",
)
PARKS = Counter(
    "rapport_dispatch_parks_total",
    "Times a partition was paused because an agent's queue was full (its records parked)",
)
PARKED = Gauge(
    "rapport_dispatch_parked_records", "Fetched records waiting for room in an agent's queue"
)

Deliver = Callable[[Any, Message], Awaitable[bool]]
"""Hands a record to its agents' queues; False when a queue is full (not handed)."""


@dataclass(slots=True)
class Parked:
    """A paused partition's records waiting for room, in offset order."""

    generation: int
    records: deque[Message]
    at: int
    """The seek clock when the first record was parked (:class:`SeekFence`)."""


class Parking:
    """The records parked because a queue they go to is full (see the module docstring)."""

    def __init__(
        self,
        app: AppT,
        consumer: Consumer,
        queues: Callable[[Any], Iterable[Any]],
        seeks: SeekFence,
    ) -> None:
        self.app = app
        self.consumer = consumer
        self.queues = queues
        self.seeks = seeks
        self.parked: dict[Any, Parked] = {}
        self.pausing: set[Any] = set()

    def has_room(self, tp: Any) -> bool:
        """Every queue of ``tp`` at most half full: its parked records may go."""
        return all(q.qsize() * 2 <= q.maxsize for q in (c.queue for c in self.queues(tp)))

    def park(self, tp: Any, message: Message) -> None:
        """The first record of ``tp`` that found a queue full: fetching from it pauses
        after this fetch (:meth:`pause`)."""
        PARKS.inc()
        generation = self.app.consumer_generation_id
        self.parked[tp] = Parked(generation, deque([message]), self.seeks.tick())
        self.pausing.add(tp)
        PARKED.inc()

    def pause(self) -> None:
        """After a fetch's records were dispatched: pause the partitions parked meanwhile.
        Not during the iteration: Faust's fetch iterator skips the records of a partition
        paused under it, and those would be read by no one until a restart."""
        generation = self.app.consumer_generation_id
        pausing = set()
        for tp in self.pausing:
            parked = self.parked.get(tp)
            if parked is None:
                continue
            if parked.generation != generation:
                # a rebalance came during the fetch: Faust may already have resumed the
                # partitions it recovered, and a pause now would never be lifted
                self.forget(tp)
                continue
            pausing.add(TP(tp.topic, tp.partition))
        self.pausing.clear()
        if pausing:
            self.consumer.pause_partitions(pausing)

    def add(self, tp: Any, message: Message) -> bool:
        """Park a record behind those of its partition (a fetch made before the pause);
        False when they belong to an older generation (dropped, see :meth:`forget`)."""
        parked = self.parked[tp]
        if parked.generation != self.app.consumer_generation_id:
            self.forget(tp)
            return False
        parked.records.append(message)
        PARKED.inc()
        return True

    def forget(self, tp: Any) -> None:
        """Drop a partition's parked records without resuming it: after a rebalance the
        new assignment seeks to the committed offsets, and Faust resumes every assigned
        partition once its tables are recovered (resuming earlier would let records in
        before)."""
        parked = self.parked.pop(tp, None)
        if parked is not None:
            PARKED.dec(len(parked.records))

    async def unpark(self, deliver: Deliver) -> None:
        """Before each fetch: deliver the parked records of partitions with room, in
        order, until a queue is full again; resume the partitions left with none."""
        generation = self.app.consumer_generation_id
        for tp, parked in list(self.parked.items()):
            if parked.generation != generation:
                self.forget(tp)
                continue
            if self.seeks.begun.get(tp, 0) > parked.at:
                # sought since (same generation): its records come again from the target
                self.forget(tp)
                self.consumer.resume_partitions({TP(tp.topic, tp.partition)})
                continue
            if not self.has_room(tp):
                continue
            records = parked.records
            while records and await deliver(tp, records[0]):
                records.popleft()
                PARKED.dec()
            if not records and self.parked.get(tp) is parked:
                del self.parked[tp]
                self.consumer.resume_partitions({TP(tp.topic, tp.partition)})


def flowing(app: AppT, consumer: Consumer) -> Callable[[], bool]:
    """A test that nothing holds up every agent: flow active, producer buffer not full."""
    flow = app.flow_control
    buffer = app.producer.buffer

    def ok() -> bool:
        return consumer.flow_active and flow.is_active() and buffer.size <= buffer.max_messages

    return ok


def channels_of(app: AppT) -> Callable[[Any], Iterable[Any]]:
    """The channels (agents' queues) a partition's records go to."""
    index = cast("dict[Any, Any]", app.topics._tp_index)  # type: ignore[attr-defined]
    return lambda tp: index.get(tp, ())


def deliverer(
    app: AppT,
    consumer: Consumer,
    channels: Callable[[Any], Iterable[Any]],
    parks: Collection[str],
) -> Deliver:
    """The delivery of one fetched record (Faust's, without its tasks per record); a
    record of a topic in ``parks`` is not delivered to a full queue (False)."""
    ok = flowing(app, consumer)
    acks_enabled_for = app.topics.acks_enabled_for
    read_offsets = consumer._read_offset

    async def deliver(tp: Any, message: Message) -> bool:
        flowing_now = ok()
        full = flowing_now and any(channel.queue.full() for channel in channels(tp))
        if full and tp.topic in parks:
            return False
        flowing_now = flowing_now and not full
        offset = message.offset
        r_offset = read_offsets.get(tp)
        if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
            await consumer._add_gap(tp, r_offset + 1, offset)
        commit_every = consumer._commit_every
        if commit_every is not None and consumer._n_acked >= commit_every:
            consumer._n_acked = 0
            await consumer.commit()
        if flowing_now:
            await consumer.callback(message)
        else:
            SLOW_DISPATCHES.inc()
            await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
        read_offsets[tp] = offset
        return True

    return deliver


def fast_dispatch(
    app: AppT, consumer: Consumer, seeks: SeekFence, parks: Collection[str] = ()
) -> Consumer:
    """Replace ``consumer._drain_messages`` with the loop of the module docstring; the
    records of the topics in ``parks`` are parked when their queue is full, and no record
    fetched before a seek of its partition is delivered after it (``seeks``)."""
    channels = channels_of(app)
    parking = Parking(app, consumer, channels, seeks)
    parked = parking.parked
    deliver = deliverer(app, consumer, channels, frozenset(parks))
    read_offsets = consumer._read_offset

    stale = seeks.stale

    async def dispatch(tp: Any, message: Message) -> None:
        if stale(tp):
            return  # fetched before a seek of its partition: read again from its target
        r_offset = read_offsets.get(tp)
        if r_offset is not None and message.offset < r_offset:
            return  # Faust's "DROPPED MESSAGE": read before
        if parked and tp in parked and parking.add(tp, message):
            return  # behind the records of its partition already parked
        if not await deliver(tp, message):
            parking.park(tp, message)

    async def drain(fetcher: ServiceT) -> None:
        consumer_should_stop = cast("Service", consumer)._stopped.is_set
        fetcher_should_stop = cast("Service", fetcher)._stopped.is_set
        since_yield = 0
        stopped: tuple[type[BaseException], ...] = (
            *consumer.consumer_stopped_errors,
            asyncio.CancelledError,
        )
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                consumer.diag.set_flag(CONSUMER_FETCHING)
                if seeks.pending:
                    await seeks.reseek()
                if parked:
                    await parking.unpark(deliver)
                # parked records go before the next fetch: poll often while there are some
                timeout = PARKED_POLL_S if parked else 1.0
                records = cast(
                    "AsyncIterator[tuple[Any, Message]]", consumer.getmany(timeout=timeout)
                )
                await asyncio.sleep(0)
                if consumer.should_stop:
                    continue
                async for tp, message in records:
                    since_yield += 1
                    if since_yield > YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_yield = 0
                    await dispatch(tp, message)
                if parking.pausing:
                    parking.pause()
                consumer.diag.unset_flag(CONSUMER_FETCHING)
        except stopped:
            if consumer.transport.app.should_stop:
                log.info("Consumer stopped, shutting down...")
                return
            raise
        finally:
            consumer.diag.unset_flag(CONSUMER_FETCHING)

    consumer._drain_messages = drain  # type: ignore[method-assign]
    return consumer
