"""The seek fence: no record fetched before a seek of its partition is delivered after it,
and a fetch that raced the seek has its partition sought to the target again."""

from __future__ import annotations

from typing import Any, cast

from faust.transport.consumer import Consumer

from streams.seek_fence import SeekFence, committed_targets

TP0, TP1 = ("events", 0), ("events", 1)


class Positions:
    """The two calls of a consumer the fence makes: its assignment, and a seek."""

    def __init__(self) -> None:
        self.sought: list[tuple[Any, int]] = []

    def assignment(self) -> set[Any]:
        return {TP0, TP1}

    async def seek(self, tp: Any, offset: int) -> None:
        self.sought.append((tp, offset))


def fetched(fence: SeekFence) -> None:
    """A fetch that began and ended now."""
    began = fence.tick()
    fence.fetch_began, fence.fetch_ended = began, fence.tick()


def test_without_a_seek_every_record_is_delivered() -> None:
    fence = SeekFence(cast("Consumer", Positions()))
    fetched(fence)
    assert not fence.stale(TP0)
    assert not fence.pending


async def test_a_seek_while_a_batch_is_dispatched_drops_its_tail_of_that_partition() -> None:
    positions = Positions()
    fence = SeekFence(cast("Consumer", positions))
    fetched(fence)
    fence.begin([TP0])
    assert fence.stale(TP0)  # under way
    fence.end([TP0], {TP0: 75})
    assert fence.stale(TP0)  # the rest of the batch came from the old position
    assert not fence.stale(TP1)  # another partition's records go on
    assert not fence.pending  # the fetch ended before the seek: nothing new was dropped
    fetched(fence)
    assert not fence.stale(TP0)  # the next fetch reads from the target


async def test_a_fetch_that_raced_the_seek_is_read_again_from_the_target() -> None:
    positions = Positions()
    fence = SeekFence(cast("Consumer", positions))
    began = fence.tick()
    fence.begin([TP0])  # the seek starts while the fetch is in flight
    fence.fetch_began, fence.fetch_ended = began, fence.tick()
    assert fence.stale(TP0)
    assert fence.pending == {TP0}
    await fence.reseek()
    assert positions.sought == []  # not while the seek is under way
    fence.end([TP0], {TP0: 75})
    await fence.reseek()
    assert positions.sought == [(TP0, 75)]
    assert not fence.pending


def test_partitions_without_a_committed_offset_keep_the_rewind_target() -> None:
    fence = SeekFence(cast("Consumer", Positions()))
    fence.begin([TP0, TP1])
    fence.begin([TP1])
    fence.end([TP1], {TP1: 12})  # the rewind to the earliest offset
    fence.end([TP0, TP1], committed_targets({TP0: 75, TP1: 0}))
    assert fence.targets == {TP0: 75, TP1: 12}
    assert not fence.running
