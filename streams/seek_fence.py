"""Records fetched before a seek of their partition are never delivered after it.

The consumer fetches on its own thread while the worker's loop dispatches the
previous fetch, yielding to the event loop every 100 records; a seek (the one to the
committed offsets that ends every recovery, or a rewind) can land in between. Faust
then goes on delivering the rest of a batch fetched before the seek, from the old
position, and sets the partition's read offset back to the seek's target only once
the seek is done. Measured after a SIGKILL (``test_sink_exactly_once``): an ``events``
partition restarted at its committed offset 75, the tail of a batch fetched before
the seek went on at 244, and the records 220-243 were delivered to no agent. The
commit rule (:mod:`streams.commit_rule`) never committed past them, so nothing was
lost, but the group's offsets stayed there until the next rebalance.

:class:`SeekFence` keeps a logical clock of the seeks and fetches of each partition:

- a record is **stale** when a seek of its partition is under way, or ended after
  the fetch that brought it began: it is dropped (not delivered, not acked, its read
  offset untouched);
- when that fetch also ended after the seek began, it may hold records from the new
  position, dropped with the rest: the partition is sought to the seek's target
  again before the next fetch (:meth:`SeekFence.reseek`), so they are read again.

Every consumer call that moves a position goes through the fence: Faust's ``_seek``
and ``seek_wait``, and ``seek_to_committed`` (with the rewind of
:func:`streams.acks.rewind_uncommitted` inside it: its seeks set the targets of the
partitions without a committed offset).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from faust.transport.consumer import Consumer
from prometheus_client import Counter

log = logging.getLogger(__name__)

STALE = Counter(
    "rapport_dispatch_stale_records_total",
    "Records fetched before a seek of their partition, dropped (read again from the seek's target)",
)


class SeekFence:
    """The logical clock of seeks and fetches (see the module docstring)."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.clock = 0
        self.last_end = 0
        self.begun: dict[Any, int] = {}
        self.ended: dict[Any, int] = {}
        self.running: dict[Any, int] = {}
        self.targets: dict[Any, int] = {}
        self.fetch_began = 0
        self.fetch_ended = 0
        self.pending: set[Any] = set()

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def begin(self, tps: Iterable[Any]) -> None:
        now = self.tick()
        for tp in tps:
            self.begun[tp] = now
            self.running[tp] = self.running.get(tp, 0) + 1

    def end(self, tps: Iterable[Any], targets: Mapping[Any, int | None]) -> None:
        now = self.last_end = self.tick()
        for tp in tps:
            self.ended[tp] = now
            left = self.running.get(tp, 1) - 1
            if left > 0:
                self.running[tp] = left
            else:
                self.running.pop(tp, None)
        for tp, offset in targets.items():
            if offset is not None and offset >= 0:
                self.targets[tp] = offset

    def stale(self, tp: Any) -> bool:
        """True when ``tp``'s record of the current fetch must be dropped (a seek of
        ``tp`` is under way or ended after the fetch began); then a record of the new
        position may be among the dropped ones if the fetch ended after the seek began,
        and ``tp`` is sought again before the next fetch."""
        if not self.running and self.last_end <= self.fetch_began:
            return False  # the usual case: no seek since this fetch began
        if tp not in self.running and self.ended.get(tp, 0) <= self.fetch_began:
            return False
        if self.begun.get(tp, 0) < self.fetch_ended:
            self.pending.add(tp)
        STALE.inc()
        return True

    async def reseek(self) -> None:
        """Before a fetch: seek again the partitions whose records of the new position
        may have been dropped (see :meth:`stale`), once their seek is done."""
        assigned = self.consumer.assignment()
        for tp in list(self.pending):
            if tp in self.running:
                continue
            self.pending.discard(tp)
            target = self.targets.get(tp)
            if target is None or tp not in assigned:
                continue
            log.info("seeking %s[%d] to %d again: a fetch raced its seek", *tp, target)
            await self.consumer.seek(tp, target)


def committed_targets(committed: Mapping[Any, int | None] | None) -> dict[Any, int]:
    """The positions a seek to the committed offsets left (aiokafka leaves a partition
    with none, or with offset 0, where it was: the rewind's own seek sets that one)."""
    return {tp: offset for tp, offset in (committed or {}).items() if offset}


def fence(consumer: Consumer) -> SeekFence:
    """Route every position change and fetch of ``consumer`` through a :class:`SeekFence`."""
    guard = SeekFence(consumer)
    getmany = consumer._getmany
    seek_to_committed = consumer.seek_to_committed
    seek_wait = consumer.seek_wait
    seek_one = consumer._seek

    async def fetch(active_partitions: Any, timeout: float) -> Any:
        began = guard.tick()
        try:
            return await getmany(active_partitions=active_partitions, timeout=timeout)
        finally:
            guard.fetch_began, guard.fetch_ended = began, guard.tick()

    async def fenced(
        tps: Iterable[Any], run: Callable[[], Awaitable[Any]], targets: Callable[[Any], Any]
    ) -> Any:
        moved = list(tps)
        guard.begin(moved)
        result: Any = None
        try:
            result = await run()
        finally:
            guard.end(moved, targets(result))
        return result

    async def to_committed() -> Mapping[Any, int]:
        committed: Mapping[Any, int] = await fenced(
            consumer.assignment(), seek_to_committed, committed_targets
        )
        return committed

    async def to_offsets(partitions: Mapping[Any, int]) -> None:
        await fenced(partitions, lambda: seek_wait(partitions), lambda _: partitions)

    async def to_offset(partition: Any, offset: int) -> None:
        await fenced(
            [partition], lambda: seek_one(partition, offset), lambda _: {partition: offset}
        )

    consumer._getmany = fetch  # type: ignore[method-assign]
    consumer.seek_to_committed = to_committed  # type: ignore[method-assign]
    consumer.seek_wait = to_offsets  # type: ignore[method-assign]
    consumer._seek = to_offset  # type: ignore[method-assign]
    return guard
