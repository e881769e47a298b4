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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types import AppT, Message
from mode import Service, ServiceT
from prometheus_client import Counter

log = logging.getLogger(__name__)
YIELD_EVERY = 100
"""Records dispatched between two yields to the event loop (Faust's figure)."""

SLOW_DISPATCHES = Counter(
    "rapport_dispatch_slow_total",
    "Records handed to the agents through the interruptible path (full queue, full "
    "producer buffer or suspended flow)",
)


def ready_for(app: AppT, consumer: Consumer) -> Callable[[Message], bool]:
    """A test that the conductor can deliver ``message`` now without waiting."""
    flow = app.flow_control
    buffer = app.producer.buffer
    index = cast("dict[Any, Any]", app.topics._tp_index)  # type: ignore[attr-defined]

    def ready(message: Message) -> bool:
        if not (consumer.flow_active and flow.is_active()):
            return False
        if buffer.size > buffer.max_messages:
            return False
        return not any(channel.queue.full() for channel in index.get(message.tp, ()))

    return ready


def fast_dispatch(app: AppT, consumer: Consumer) -> Consumer:
    """Replace ``consumer._drain_messages`` with the loop of the module docstring."""
    ready = ready_for(app, consumer)
    acks_enabled_for = app.topics.acks_enabled_for
    read_offsets = consumer._read_offset

    async def dispatch(tp: Any, message: Message) -> None:
        offset = message.offset
        r_offset = read_offsets.get(tp)
        if r_offset is not None and offset < r_offset:
            return  # Faust's "DROPPED MESSAGE": read before
        if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
            await consumer._add_gap(tp, r_offset + 1, offset)
        commit_every = consumer._commit_every
        if commit_every is not None and consumer._n_acked >= commit_every:
            consumer._n_acked = 0
            await consumer.commit()
        if ready(message):
            await consumer.callback(message)
        else:
            SLOW_DISPATCHES.inc()
            await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
        read_offsets[tp] = offset

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
                records = cast("AsyncIterator[tuple[Any, Message]]", consumer.getmany(timeout=1.0))
                await asyncio.sleep(0)
                if consumer.should_stop:
                    continue
                async for tp, message in records:
                    since_yield += 1
                    if since_yield > YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_yield = 0
                    await dispatch(tp, message)
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
