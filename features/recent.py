"""The event ids seen in the last ``span`` offsets of one ``events`` partition.

Ingest forwards each event once, but after a crash it forwards again the events
it had not committed: the same event id at a *new* offset of the same partition
(the customer's), at most a commit interval's worth of records later. A copy of
an id seen at a smaller offset within the span is such a re-forward and is
dropped; the same id at the *same* offset is this agent's own redelivery, which
the per-customer offset in the state handles.

The window lives in memory and is rebuilt from the topic itself (the ``span``
records before the first offset consumed) when a partition is (re)assigned.

>>> ids = RecentIds(span=3)
>>> ids.seen_before("a", 10), ids.seen_before("a", 10), ids.seen_before("a", 12)
(False, False, True)
>>> ids.seen_before("b", 13), ids.seen_before("c", 14), ids.seen_before("a", 15)
(False, False, False)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class RecentIds:
    """Insertion-ordered ``(offset, event_id)`` of one partition, expiring by offset."""

    __slots__ = ("_first", "_order", "span")

    def __init__(self, span: int) -> None:
        self.span = span
        self._first: dict[str, int] = {}
        self._order: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._first)

    def load(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Seed with ``(offset, event_id)`` read from the topic, in offset order."""
        for offset, event_id in pairs:
            self.seen_before(event_id, offset)

    def seen_before(self, event_id: str, offset: int) -> bool:
        """True when ``event_id`` was seen at a smaller offset within the span."""
        order = self._order
        horizon = offset - self.span
        while order and order[0][0] <= horizon:
            old_offset, old_id = order.popleft()
            if self._first.get(old_id) == old_offset:
                del self._first[old_id]
        first = self._first.get(event_id)
        if first is None:
            self._first[event_id] = offset
            order.append((offset, event_id))
            return False
        return first < offset
