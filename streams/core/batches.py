"""Batches of a stream's events, drained from its queue, acknowledged after the batch.

Faust's ``take()`` iterates each event through the stream (processors, sensors, the
context variable) and adds a processor to buffer them; :func:`batches` takes what the
consumer already queued for the agent in one pass instead: the first event waited
for, then whatever else is queued (up to ``max_events``), and once more after
``linger_s`` if the batch is still short. Every event of a batch is tracked for
commits like ``Stream.__aiter__`` does, and acknowledged only when the agent asks for
the next batch: after the batch's produces and table writes were issued, so the
commit that follows (after Faust's producer flush) covers them. A batch the agent
leaves by an exception or a stop (Faust cancels agents at shutdown, maybe mid-batch)
is released, not acknowledged: it is read again after a restart, where
``Stream.__aiter__`` would ack its current event, processed or not.

A record fetched in an older consumer generation, or while flow control is
suspended (a rebalance), is acknowledged at once without being processed: the
worker's guard (:mod:`streams.acks`) refuses that ack, so the record is not
committed and is read again after the seek that follows the rebalance, exactly as
for a record ``Stream.__aiter__`` skips.

Table writes need the current event (Faust picks the changelog partition from it):
:func:`use` sets it for the writes that follow.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import EventT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify


def use(event: EventT[Any]) -> None:
    """Make ``event`` the current event of this task (table writes go to its partition)."""
    _current_event.set(weakref.ref(event))


class _Batcher:
    """The bookkeeping of :func:`batches` for one stream."""

    def __init__(self, stream: Any) -> None:
        app = stream.app
        self.app = app
        self.queue = stream.channel.queue
        self.unacked = app.consumer.unacked
        self.acking_topics = app.topics.acking_topics
        self.on_message_in = app.sensors.on_message_in
        self.on_message_out = app.sensors.on_message_out
        self.batch: list[EventT[Any]] = []

    def admit(self, item: Any) -> None:
        if not isinstance(item, EventT):
            return
        message = item.message
        app = self.app
        if not app.flow_control.is_active() or message.generation_id != (
            app.consumer_generation_id
        ):
            self.ack(item)  # refused by the guard: read again after the seek
            return
        if message.topic in self.acking_topics and not message.tracked:
            message.tracked = True
            self.unacked.add(message)
            self.on_message_in(message.tp, message.offset, message)
        self.batch.append(item)

    def drain(self, limit: int) -> None:
        queue, batch = self.queue, self.batch
        while len(batch) < limit and not queue.empty():
            self.admit(queue.get_nowait())

    def ack(self, event: EventT[Any]) -> None:
        if event.ack():
            message = event.message
            self.on_message_out(message.tp, message.offset, message)

    def release(self, events: list[EventT[Any]]) -> None:
        """Let go of events without acknowledging them: nothing waits for them and no
        commit passes them, so they are read again after the next seek (a restart or a
        rebalance)."""
        consumer = self.app.consumer
        with ack_lock:
            for event in events:
                message = event.message
                if not message.acked:
                    message.acked = True
                    consumer._unacked_messages.discard(message)
            notify(consumer._waiting_for_ack)

    def take(self) -> list[EventT[Any]]:
        done, self.batch = self.batch, []
        return done


async def batches(
    stream: faust.StreamT[Any], max_events: int, linger_s: float = 0.0
) -> AsyncIterator[list[EventT[Any]]]:
    """The stream's events in batches (module docstring); acks after each batch."""
    concrete: Any = stream
    await concrete.maybe_start()
    channel: Any = stream.channel
    errors = channel.queue._errors
    batcher = _Batcher(stream)
    try:
        while not concrete.should_stop:
            if errors:
                raise errors.popleft()
            try:
                batcher.admit(await channel.__anext__())
            except StopAsyncIteration:  # the channel was closed: the agent stops
                return
            batcher.drain(max_events)
            if linger_s > 0 and len(batcher.batch) < max_events:
                await asyncio.sleep(linger_s)
                batcher.drain(max_events)
            if not batcher.batch:
                continue
            batch = batcher.take()
            try:
                yield batch
            except BaseException:
                # the agent stopped or failed inside the batch: not processed, not acked
                batcher.release(batch)
                raise
            for event in batch:
                batcher.ack(event)
    finally:
        batcher.release(batcher.take())
