"""Duplicate-event detection over a bounded horizon, on a changelog-backed table.

An entry per ``event_id`` holds where the event was first seen (partition, offset) and
when (wall clock). A record seen again at the *same* offset is a redelivery after a
crash, not a duplicate, and is forwarded again (downstream stores are idempotent).
Entries older than the horizon are deleted as new events of their partition arrive;
after a restart the index of a partition is rebuilt from the recovered table.

>>> index = HorizonIndex(horizon_s=10)
>>> index.add("a", 0.0); index.add("b", 5.0)
>>> index.expired(12.0)
['a']
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Seen:
    partition: int
    offset: int
    at: float

    def encode(self) -> str:
        return f"{self.partition}:{self.offset}:{self.at:.3f}"

    @classmethod
    def decode(cls, text: str) -> Seen:
        partition, offset, at = text.split(":")
        return cls(int(partition), int(offset), float(at))


@dataclass
class HorizonIndex:
    """Insertion-ordered (at, event_id) of one partition, for expiry."""

    horizon_s: float
    entries: deque[tuple[float, str]] = field(default_factory=deque)

    def add(self, event_id: str, at: float) -> None:
        self.entries.append((at, event_id))

    def expired(self, now: float) -> list[str]:
        cutoff = now - self.horizon_s
        out = []
        while self.entries and self.entries[0][0] < cutoff:
            out.append(self.entries.popleft()[1])
        return out
