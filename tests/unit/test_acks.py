"""The ack guard: a record a stream skipped during a rebalance is never committed.

The end-to-end proof is ``tests/integration/test_sink_exactly_once.py`` (two SIGKILLs,
nothing lost); these pin the rule itself on a real Faust consumer object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.acks import REFUSED_ACKS, WAIT_EMPTY_TIMEOUTS, GuardedStream, RapportApp

TOPIC = "t-acks"


def make_app(compacted: frozenset[str] = frozenset()) -> RapportApp:
    app = RapportApp(
        "t-acks", broker="kafka://127.0.0.1:1", store="memory://", Stream=GuardedStream
    )
    app.compacted_topics = compacted  # read when the consumer is created
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


def test_on_a_compacted_topic_only_a_refused_head_record_holds_the_commit() -> None:
    app = make_app(compacted=frozenset({TOPIC}))
    app.consumer._committed_offset[TP(TOPIC, 0)] = 3  # type: ignore[attr-defined]
    assert app.consumer.ack(message(4, 7))  # offset 3 compacted away: Faust's rule commits
    assert committable(app) == 5
    assert not app.consumer.ack(message(5, 6))  # skipped in an older generation: refused
    app.consumer._committed_offset[TP(TOPIC, 0)] = 5  # type: ignore[attr-defined]
    assert app.consumer.ack(message(6, 7))
    assert committable(app) is None  # 5 is read again before anything is committed
    assert app.consumer.ack(message(5, 7))
    assert committable(app) == 7


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
    # it counts as refused: on a compacted topic too, no commit passes over it
    compacted = make_app(frozenset({TOPIC}))
    compacted.wait_empty_timeout_s = 0.3
    compacted.consumer.commit = commit  # type: ignore[method-assign]
    compacted.consumer._committed_offset[TP(TOPIC, 0)] = 3  # type: ignore[attr-defined]
    held = message(3, 7)  # the set is weak: the dropped record is still referenced
    compacted.consumer._unacked_messages.add(held)  # type: ignore[attr-defined]
    await asyncio.wait_for(compacted.consumer.wait_empty(), 5.0)
    for offset in (4, 5):
        assert compacted.consumer.ack(message(offset, 7))
    assert committable(compacted) is None
    assert compacted.consumer.ack(message(3, 7))  # read again, processed: now it commits
    assert committable(compacted) == 6
