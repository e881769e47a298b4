"""The ack guard: a record a stream skipped during a rebalance is never committed.

The end-to-end proof is ``tests/integration/test_sink_exactly_once.py`` (two SIGKILLs,
nothing lost); these pin the rule itself on a real Faust consumer object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.acks import REFUSED_ACKS, WAIT_EMPTY_TIMEOUTS, GuardedStream, RapportApp

TOPIC = "t-acks"


def make_app() -> RapportApp:
    app = RapportApp(
        "t-acks", broker="kafka://127.0.0.1:1", store="memory://", Stream=GuardedStream
    )
    app.topics.acks_enabled_for = lambda topic: topic == TOPIC  # type: ignore[method-assign]
    app.consumer_generation_id = 7
    app.flow_control.resume()
    return app


@pytest.fixture
def app() -> Iterator[RapportApp]:
    yield make_app()


def message(offset: int, generation: int) -> ConsumerMessage:
    tp = TP(TOPIC, 0)
    return ConsumerMessage(
        TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None, tp=tp, generation_id=generation
    )


def committable(app: RapportApp) -> int | None:
    return app.consumer._new_offset(TP(TOPIC, 0))  # type: ignore[attr-defined, no-any-return]


async def fetch(app: RapportApp, offsets: list[int]) -> None:
    """Run the consumer's fetch with the broker's thread answering ``offsets``."""
    consumer = app.consumer

    async def answer(active_partitions: object, timeout: float) -> dict[TP, list[Record]]:
        return {TP(TOPIC, 0): [Record(o) for o in offsets]}

    consumer._thread.getmany = answer  # type: ignore[attr-defined]
    got = await consumer._getmany(active_partitions=None, timeout=0.1)  # type: ignore[attr-defined]
    assert [r.offset for r in got[TP(TOPIC, 0)]] == offsets


@dataclass
class Record:
    offset: int


def test_processed_records_of_this_generation_are_committed(app: RapportApp) -> None:
    for offset in range(5):
        assert app.consumer.ack(message(offset, 7))
    assert committable(app) == 5


def test_a_record_of_an_older_generation_is_marked_done_but_not_committed(
    app: RapportApp,
) -> None:
    before = REFUSED_ACKS._value.get()
    stale = message(0, 6)
    app.consumer._unacked_messages.add(stale)  # type: ignore[attr-defined]
    assert not app.consumer.ack(stale)
    assert stale.acked  # a rebalance waiting for in-flight records does not wait for it
    assert stale not in app.consumer._unacked_messages  # type: ignore[attr-defined]
    assert committable(app) is None
    assert REFUSED_ACKS._value.get() == before + 1
    # the record is read again after the seek to the committed offset, and then counts
    assert app.consumer.ack(message(0, 7))
    assert committable(app) == 1


def test_nothing_is_committed_while_flow_control_is_suspended(app: RapportApp) -> None:
    app.flow_control.suspend()
    for offset in range(3):
        assert not app.consumer.ack(message(offset, 7))
    assert committable(app) is None
    app.flow_control.resume()
    assert app.consumer.ack(message(0, 7))
    assert committable(app) == 1


def test_streams_take_the_python_iterator_whose_acks_reach_the_guard(app: RapportApp) -> None:
    stream = app.stream(app.channel())
    assert isinstance(stream, GuardedStream)
    it = stream.__aiter__()
    assert getattr(it, "__qualname__", "").endswith("_py_aiter")


def test_a_missing_head_record_holds_the_commit_back(app: RapportApp) -> None:
    app.consumer._committed_offset[TP(TOPIC, 0)] = 3  # type: ignore[attr-defined]
    for offset in (4, 5, 6):  # offset 3 was refused: never committed over
        assert app.consumer.ack(message(offset, 7))
    assert committable(app) is None
    assert app.consumer.ack(message(3, 7))
    assert committable(app) == 7


def test_from_offset_zero_too(app: RapportApp) -> None:
    app.consumer._committed_offset[TP(TOPIC, 0)] = 0  # type: ignore[attr-defined]
    assert app.consumer.ack(message(1, 7))
    assert committable(app) is None


async def test_offsets_never_fetched_below_a_fetched_one_are_passed(app: RapportApp) -> None:
    """On a compacted topic offsets 3 and 7-8 hold no record: the commit passes them."""
    app.consumer._committed_offset[TP(TOPIC, 0)] = 3  # type: ignore[attr-defined]
    await fetch(app, [4, 5, 6, 9])
    assert app.consumer.ack(message(4, 7))
    assert committable(app) == 5
    assert not app.consumer.ack(message(5, 6))  # skipped in an older generation: refused
    app.consumer._committed_offset[TP(TOPIC, 0)] = 5  # type: ignore[attr-defined]
    for offset in (6, 9):
        assert app.consumer.ack(message(offset, 7))
    assert committable(app) is None  # 5 was fetched and not processed: read again first
    await fetch(app, [5, 6, 9])  # after the seek back
    assert app.consumer.ack(message(5, 7))
    assert committable(app) == 10


async def test_records_fetched_then_dropped_hold_the_commit(app: RapportApp) -> None:
    """Faust drops the rest of a fetched batch when a rebalance starts; its gap tree
    then counts offsets it jumped over as done. Fetched and not acked holds here."""
    tp = TP(TOPIC, 0)
    app.consumer._committed_offset[tp] = 10  # type: ignore[attr-defined]
    await fetch(app, list(range(10, 20)))
    for offset in (10, 11, 15, 16):  # 12-14 and 17-19 dropped
        assert app.consumer.ack(message(offset, 7))
    await app.consumer._add_gap(tp, 12, 15)  # type: ignore[attr-defined]
    assert committable(app) == 12
    app.consumer._committed_offset[tp] = 12  # type: ignore[attr-defined]  # as the commit does
    assert committable(app) is None  # nothing new is done
    for offset in (12, 13, 14, 17, 18, 19):  # read again after the seek
        assert app.consumer.ack(message(offset, 7))
    assert committable(app) == 20


async def test_a_stop_gives_up_waiting_for_records_no_stream_holds() -> None:
    """Faust clears the agents' queues before it waits for records in flight; a record
    dropped there stays unacknowledged, and the stop used to wait for it forever."""
    app = make_app()
    app.wait_empty_timeout_s = 0.3
    consumer = app.consumer
    dropped = message(3, 7)
    consumer._unacked_messages.add(dropped)  # type: ignore[attr-defined]

    async def commit(*args: object, **kwargs: object) -> bool:
        return False

    consumer.commit = commit  # type: ignore[method-assign]
    before = WAIT_EMPTY_TIMEOUTS._value.get()
    await asyncio.wait_for(consumer.wait_empty(), 5.0)  # returns: not stuck
    assert WAIT_EMPTY_TIMEOUTS._value.get() == before + 1
    assert not dropped.acked
    assert committable(app) is None  # never committed: read again by the next owner
    # on a compacted topic too, no commit passes over it: it was fetched, never acked
    other = make_app()
    other.wait_empty_timeout_s = 0.3
    other.consumer.commit = commit  # type: ignore[method-assign]
    other.consumer._committed_offset[TP(TOPIC, 0)] = 3  # type: ignore[attr-defined]
    await fetch(other, [3, 4, 5])
    held = message(3, 7)  # the set is weak: the dropped record is still referenced
    other.consumer._unacked_messages.add(held)  # type: ignore[attr-defined]
    await asyncio.wait_for(other.consumer.wait_empty(), 5.0)
    for offset in (4, 5):
        assert other.consumer.ack(message(offset, 7))
    assert committable(other) is None
    assert other.consumer.ack(message(3, 7))  # read again, processed: now it commits
    assert committable(other) == 6
