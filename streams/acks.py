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
- :func:`proven_commits`: Faust commits over one missing record at the head of the
  acked offsets (any number from offset 0) and over the offsets its gap tree says
  it jumped over, records it fetched and then dropped included; a commit here
  passes only offsets acked or proven empty by what was fetched
  (:mod:`streams.commit_rule`), on compacted topics too.
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
from bisect import bisect_left
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

from streams.commit_rule import FetchedRuns, committable
from streams.dispatch import fast_dispatch
from streams.fetching import tune_fetches
from streams.seek_fence import fence

log = logging.getLogger(__name__)

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
    wait_empty_timeout_s: float = 30.0,
) -> Consumer:
    """Wrap ``consumer.ack`` so that a skipped record's offset is never committed."""
    original: Callable[[Message], bool] = consumer.ack

    def ack(message: Message) -> bool:
        if processed_in_this_generation(app, message):
            return original(message)
        with ack_lock:
            if not message.acked:
                message.acked = True
                consumer._unacked_messages.discard(message)
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
    bounded_wait_empty(consumer, wait_empty_timeout_s)
    proven_commits(consumer)
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


def proven_commits(consumer: Consumer) -> None:
    """Commit only offsets proven done: acked, or never fetched below a fetched one.

    Every batch the consumer fetches is recorded (``_getmany``), records Faust then
    drops included; :func:`streams.commit_rule.committable` commits up to the first
    offset that is neither acked nor provably empty (compacted away, a transaction
    marker). This replaces Faust's rule, which commits over one missing record at the
    head of the acked offsets (any number from offset 0) and over the offsets its
    gap tree recorded as jumped over, records fetched and then dropped by a
    rebalance included. Where no committed offset is known (no commit and an
    offset reset other than ``earliest``), Faust's rule stays.
    """
    runs: dict[Any, FetchedRuns] = {}
    getmany = consumer._getmany
    new_offset = consumer._new_offset
    topics = consumer.app.topics

    async def fetch(active_partitions: Any, timeout: float) -> Any:
        records = await getmany(active_partitions=active_partitions, timeout=timeout)
        for tp, batch in records.items():
            if batch and topics.acks_enabled_for(tp.topic):
                # aiokafka's and Faust's partition tuples are equal: one key for both
                fetched = runs.get(tp)
                if fetched is None:
                    fetched = runs[tp] = FetchedRuns()
                fetched.add([r.offset for r in batch])
        return records

    def checked(tp: Any) -> int | None:
        committed = consumer._committed_offset.get(tp)
        acked = consumer._acked.get(tp)
        if committed is None or not acked:
            return new_offset(tp)
        fetched = runs.get(tp) or FetchedRuns()
        acked.sort()
        offset = committable(fetched, committed, acked)
        if offset is None:
            return None
        done = bisect_left(acked, offset)
        consumer._acked_index[tp].difference_update(acked[:done])
        del acked[:done]
        gap = consumer._gap.get(tp)
        if gap:
            gap.chop(0, offset)
        fetched.prune(offset)
        return offset

    consumer._getmany = fetch  # type: ignore[method-assign]
    consumer._new_offset = checked  # type: ignore[method-assign]


def complete_flush(buffer: ProducerBuffer) -> ProducerBuffer:
    """Make ``buffer.flush`` return only once every buffered message was handed on."""

    async def flush() -> None:
        while buffer.size and buffer.state == "running":
            await buffer.flush_atmost(None)

    buffer.flush = flush  # type: ignore[method-assign]
    return buffer


def bounded_wait_empty(consumer: Consumer, timeout_s: float) -> None:
    """Make ``consumer.wait_empty`` (at every stop and revocation) give up after ``timeout_s``.

    Faust clears the agents' input queues before it waits (``flow_control.clear()``),
    but the records dropped there stay in ``_unacked_messages``, so the wait can last
    forever (seen: a worker ignoring SIGTERM for 14 minutes, waiting for one insight
    record no stream held). The records still unacknowledged were fetched and are
    not acked, so no commit passes them (:func:`proven_commits`): they are read
    again after the seek that follows.
    """
    wait_empty = consumer.wait_empty

    async def bounded() -> None:
        waiting = asyncio.ensure_future(wait_empty())
        done, _ = await asyncio.wait({waiting}, timeout=timeout_s)
        if not done:
            # Faust's loop swallows cancellation: end it by its own condition instead
            stuck = len(consumer._unacked_messages)
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

    wait_empty_timeout_s: float = 30.0
    """How long a stop or a revocation waits for records in flight (set before start)."""
    producer_buffer_max: int = 100
    """Table writes buffered before the conductor waits for them to be sent (Faust's 100;
    a batch writes one per dirty key at once, so the app sets a bound above the batch)."""

    park_topics: frozenset[str] = frozenset()
    """Topics of slow agents whose records are parked, not waited on, when their queue is
    full (:mod:`streams.dispatch`; set before start)."""

    fetch_min_bytes: int = 1
    fetch_max_wait_ms: int = 1500
    """The consumer's fetches (:mod:`streams.fetching`; set before start)."""

    def _new_consumer(self) -> Any:
        consumer = cast("Consumer", super()._new_consumer())
        tune_fetches(consumer, self.fetch_min_bytes, self.fetch_max_wait_ms)
        guarded = guard(self, consumer, self.wait_empty_timeout_s)
        return fast_dispatch(self, guarded, fence(guarded), self.park_topics)

    def _new_producer(self) -> Any:
        producer = cast("Producer", super()._new_producer())
        buffer = complete_flush(cast("ProducerBuffer", producer.buffer))
        buffer.max_messages = self.producer_buffer_max
        return producer
