"""Offsets are committed only for records an agent really processed.

Five faust-streaming 0.15 behaviours let a SIGKILL and a rejoin lose records whose
offsets were then committed (measured in ``tests/integration/test_sink_exactly_once``:
200-300 interactions per partition, and single insights). Each is corrected here:

- :func:`rewind_uncommitted`: after a rebalance Faust drops the records it fetched
  while flow control was off and seeks back to the committed offsets; aiokafka
  does not move a partition that has no committed offset (or offset 0), so that
  dropped batch was never read again. The main cause of the loss.
- :func:`guard`: a record a stream *skips* (fetched in an older generation, or
  read while flow control is suspended) is acked by ``Stream.__aiter__`` as if
  processed. The ack is refused here: the record is marked done for Faust's
  bookkeeping, its offset never becomes committable, and the seek that follows
  every rebalance delivers it again.
- :func:`contiguous_commits`: Faust commits over one missing record at the head of
  the acked offsets (and over any number from offset 0); a commit must start at
  the committed offset (on a compacted topic, where a head record may have been
  compacted away, the commit waits for the refused records only).
- :func:`bounded_wait_empty`: the wait for records in flight at a stop or a
  revocation can last forever (records dropped from the agents' queues stay
  "unacknowledged"); it gives up after a bound and leaves them uncommitted.
- :func:`complete_flush`: the producer buffer's ``flush`` (run before every commit)
  returns after 0.1 s without a send even with changelog writes still queued.

A record processed just as a rebalance starts may be delivered twice; every store
downstream is idempotent (ingest dedup, feature offsets, ClickHouse tokens, draft
claims), so a redelivery is harmless and a loss is not. Faust's Cython stream
iterator inlines the ack bookkeeping, bypassing ``Consumer.ack``;
:class:`GuardedStream` always takes the pure-Python iterator.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, cast

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import Consumer
from faust.transport.producer import Producer, ProducerBuffer
from faust.types import AppT, Message
from faust.types.tuples import ack_lock
from mode.utils.futures import notify
from prometheus_client import Counter

log = logging.getLogger(__name__)

Refused = defaultdict[Any, set[int]]
"""Offsets whose ack was refused, per topic partition, until a commit passes them."""

WAIT_EMPTY_TIMEOUTS = Counter(
    "rapport_wait_empty_timeouts_total",
    "Stops or revocations that gave up waiting for unacknowledged records",
)
REFUSED_ACKS = Counter(
    "rapport_refused_acks_total",
    "Acks of records skipped by a stream during a rebalance: not committed, read again",
)


class GuardedStream(faust.Stream):  # type: ignore[type-arg]
    """A Faust stream whose acks always go through ``Consumer.ack`` (see the module)."""

    def __aiter__(self) -> AsyncIterator[Any]:
        it = cast("AsyncGenerator[Any, None]", self._py_aiter())
        self._active_agens.add(it)
        return it


def processed_in_this_generation(app: AppT, message: Message) -> bool:
    """True unless the stream skipped ``message`` (the exact test Faust skips by)."""
    return bool(app.flow_control.is_active()) and (
        message.generation_id == app.consumer_generation_id
    )


def guard(
    app: AppT,
    consumer: Consumer,
    compacted: frozenset[str] = frozenset(),
    wait_empty_timeout_s: float = 30.0,
) -> Consumer:
    """Wrap ``consumer.ack`` so that a skipped record's offset is never committed."""
    original: Callable[[Message], bool] = consumer.ack
    refused: Refused = defaultdict(set)

    def ack(message: Message) -> bool:
        if processed_in_this_generation(app, message):
            return original(message)
        with ack_lock:
            if not message.acked:
                message.acked = True
                consumer._unacked_messages.discard(message)
                refused[message.tp].add(message.offset)
                REFUSED_ACKS.inc()
                log.debug(
                    "not committing %s[%d]@%d: skipped during a rebalance, it will be read again",
                    message.topic,
                    message.partition,
                    message.offset,
                )
            notify(consumer._waiting_for_ack)
        return False

    consumer.ack = ack  # type: ignore[method-assign]
    rewind_uncommitted(app, consumer)
    bounded_wait_empty(consumer, wait_empty_timeout_s, refused)
    contiguous_commits(consumer, lambda topic: topic in compacted, refused)
    return consumer


def rewind_uncommitted(app: AppT, consumer: Consumer) -> None:
    """After a seek to the committed offsets, rewind the partitions with no commit.

    aiokafka's ``seek_to_committed`` leaves a partition without a committed offset
    (or with offset 0) where it is. Faust drops the records it fetched while flow
    control was off (``getmany called while flow not active``) and relies on that
    seek to read them again: for a partition the group never committed on, the
    dropped batch was lost (measured: 200-300 records per partition after a
    SIGKILL). Such a partition restarts from its earliest offset, as
    ``consumer_auto_offset_reset = "earliest"`` says, and that offset counts as its
    committed offset for :func:`contiguous_commits`.
    """
    if app.conf.consumer_auto_offset_reset != "earliest":
        return
    seek_to_committed = consumer.seek_to_committed

    async def seek() -> Mapping[Any, int]:
        committed = await seek_to_committed()
        fresh = [
            tp
            for tp, offset in committed.items()
            if not offset and not consumer._is_changelog_tp(tp)
        ]
        if not fresh:
            return committed
        log.info("no committed offset on %d partitions: reading them from the start", len(fresh))
        try:
            earliest = await consumer.earliest_offsets(*fresh)
            for tp, offset in earliest.items():
                await consumer.seek(tp, offset)
                consumer._committed_offset[tp] = offset
        except IllegalStateError as exc:  # revoked meanwhile: the next assignment seeks again
            log.warning("could not rewind uncommitted partitions: %s", exc)
        return committed

    consumer.seek_to_committed = seek  # type: ignore[method-assign]


def contiguous_commits(
    consumer: Consumer, compacted: Callable[[str], bool], refused: Refused
) -> None:
    """Commit only a run of acks that starts at the committed offset.

    Faust's ``_new_offset`` lets one missing record at the head through (its check
    is ``min(acked) - committed > 1``) and none at all when the committed offset is
    0: a record whose ack was refused above could then be committed over.
    On a compacted topic a missing head record may have been compacted away, so
    there the commit waits only for records whose ack was refused (``refused``).
    Known limit: a transaction marker also takes an offset that is never delivered,
    so on a topic written by a transactional producer (Faust's ``exactly_once``
    guarantee included) a marker right at the committed offset holds commits back.
    The default ``at-least-once`` writes no markers. Narrowing the rule to refused
    records, as on compacted topics, was tried and lost single records in the
    SIGKILL test: some missing heads are not refused acks, for a cause not found yet.
    """
    new_offset = consumer._new_offset

    def checked(tp: Any) -> int | None:
        acked = consumer._acked.get(tp)
        committed = consumer._committed_offset.get(tp)
        if acked and committed is not None and min(acked) > committed:
            if not compacted(tp.topic):
                return None
            head = min(acked)
            if any(committed <= offset < head for offset in refused.get(tp, ())):
                return None
        offset = new_offset(tp)
        if offset is not None and tp in refused:
            refused[tp] = {o for o in refused[tp] if o >= offset}
        return offset

    consumer._new_offset = checked  # type: ignore[method-assign]


def complete_flush(buffer: ProducerBuffer) -> ProducerBuffer:
    """Make ``buffer.flush`` return only once every buffered message was handed on."""

    async def flush() -> None:
        while buffer.size and buffer.state == "running":
            await buffer.flush_atmost(None)

    buffer.flush = flush  # type: ignore[method-assign]
    return buffer


def bounded_wait_empty(consumer: Consumer, timeout_s: float, refused: Refused) -> None:
    """Make ``consumer.wait_empty`` (at every stop and revocation) give up after ``timeout_s``.

    Faust clears the agents' input queues before it waits (``flow_control.clear()``),
    but the records dropped there stay in ``_unacked_messages``, so the wait can last
    forever (seen: a worker ignoring SIGTERM for 14 minutes, waiting for one insight
    record no stream held). The records still unacknowledged then count as refused
    acks, so no commit passes them (see :func:`contiguous_commits`, on compacted
    topics too): they are read again after the seek that follows.
    """
    wait_empty = consumer.wait_empty

    async def bounded() -> None:
        waiting = asyncio.ensure_future(wait_empty())
        done, _ = await asyncio.wait({waiting}, timeout=timeout_s)
        if not done:
            # Faust's loop swallows cancellation: end it by its own condition instead
            stuck = len(consumer._unacked_messages)
            for message in consumer._unacked_messages:
                refused[message.tp].add(message.offset)
            consumer._unacked_messages.clear()
            notify(consumer._waiting_for_ack)
            WAIT_EMPTY_TIMEOUTS.inc()
            log.warning(
                "gave up waiting after %.0fs for %d unacknowledged records: "
                "not committed, they will be read again",
                timeout_s,
                stuck,
            )
        await waiting

    consumer.wait_empty = bounded


class RapportApp(faust.App):
    """``faust.App`` whose consumer commits only what agents processed and flushed."""

    compacted_topics: frozenset[str] = frozenset()
    """Names of the compacted topics the app reads (set before the consumer starts)."""
    wait_empty_timeout_s: float = 30.0
    """How long a stop or a revocation waits for records in flight (set before start)."""

    def _new_consumer(self) -> Any:
        consumer = cast("Consumer", super()._new_consumer())
        return guard(self, consumer, self.compacted_topics, self.wait_empty_timeout_s)

    def _new_producer(self) -> Any:
        producer = cast("Producer", super()._new_producer())
        complete_flush(cast("ProducerBuffer", producer.buffer))
        return producer
