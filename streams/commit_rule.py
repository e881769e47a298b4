"""Which offset a partition may commit: one proven by what was fetched and acked.

Kafka returns a partition's records in offset order, from the position the consumer
was sought to (its committed offset, or the earliest offset where none was
committed). So an offset at or above the committed one that this consumer never
fetched, although it fetched a later one, holds no record: it was compacted away or
is a transaction marker. An offset that was fetched but is not acked is a record not
processed yet, or one Faust dropped during a rebalance (read again after the seek
that follows).

:func:`committable` commits up to the first offset that is neither acked nor such a
hole.

What was fetched is kept per partition for the life of the process (pruned below each
commit), across revocations: a fetch still in flight at a revocation or a seek may
land afterwards, and forgetting the offsets fetched before it would turn the records
between the committed offset and that late batch into "holes". This relies on a
group's committed offsets only moving forward while the process runs: Kafka resets a
group's offsets only when it has no active members, so workers restart (and start
with nothing fetched) after such a reset.

Faust's own rule (a run of acks, with its gap tree of offsets it jumped over
taken as acked) also passes records fetched and then dropped, which lost records
after SIGKILLs and rebalances (see :mod:`streams.acks`).

>>> runs = FetchedRuns()
>>> runs.add([3, 4, 5, 9, 10])  # 6, 7 and 8 compacted away
>>> committable(runs, committed=3, acked=[3, 4, 5, 9])
10
>>> committable(runs, committed=3, acked=[3, 5, 9])  # 4 fetched, not processed yet
4
>>> committable(runs, committed=3, acked=[]) is None
True
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence


class FetchedRuns:
    """The offsets of one partition this consumer fetched, as sorted disjoint runs."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []  # exclusive

    def add(self, offsets: Sequence[int]) -> None:
        """Record a fetched batch (offsets in increasing order)."""
        if not offsets:
            return
        if offsets[-1] - offsets[0] == len(offsets) - 1:
            self._add_run(offsets[0], offsets[-1] + 1)
            return
        start = prev = offsets[0]
        for offset in offsets[1:]:
            if offset != prev + 1:
                self._add_run(start, prev + 1)
                start = offset
            prev = offset
        self._add_run(start, prev + 1)

    def _add_run(self, start: int, end: int) -> None:
        starts, ends = self.starts, self.ends
        if not starts or start > ends[-1]:
            starts.append(start)
            ends.append(end)
            return
        if start >= starts[-1]:  # the usual case: continues (or overlaps) the last run
            ends[-1] = max(ends[-1], end)
            return
        # a re-read below the last run: merge every run it touches
        i = bisect_right(ends, start - 1)  # first run ending at or after start
        j = bisect_right(starts, end)  # runs before j start at or before end
        if i < j:
            start, end = min(start, starts[i]), max(end, ends[j - 1])
        starts[i:j] = [start]
        ends[i:j] = [end]

    def fetched(self, offset: int) -> bool:
        i = bisect_right(self.starts, offset) - 1
        return i >= 0 and offset < self.ends[i]

    def next_start(self, offset: int) -> int | None:
        """The first fetched offset above ``offset``, if any."""
        i = bisect_right(self.starts, offset)
        return self.starts[i] if i < len(self.starts) else None

    def prune(self, below: int) -> None:
        """Forget runs wholly below ``below`` (committed)."""
        i = bisect_right(self.ends, below)
        del self.starts[:i]
        del self.ends[:i]


def committable(runs: FetchedRuns, committed: int, acked: Sequence[int]) -> int | None:
    """The offset to commit (one past the last record done), or None to hold.

    ``acked`` must be sorted. Every offset in ``[committed, result)`` is acked or
    holds no record.
    """
    pos = committed
    i = bisect_right(acked, pos - 1)
    while True:
        if i < len(acked) and acked[i] == pos:
            pos += 1
            i += 1
            continue
        if runs.fetched(pos):
            break  # a record not processed (yet)
        nxt = runs.next_start(pos)
        if nxt is None:
            break  # nothing fetched beyond: nothing proves pos empty
        pos = nxt  # [pos, nxt) holds no record
        i = bisect_right(acked, pos - 1)
    return pos if pos > committed else None
