"""A table written once per dirty key per batch: the last value of each key, at the end.

Every write to a Faust table is a store put plus a changelog record (~20-25 us); an
agent that takes a batch and touches the same customer several times would write it
several times. :class:`WriteBehind` keeps the batch's writes (and deletions) in a dict,
serves reads from it first, and :meth:`WriteBehind.flush` hands each key's last value
to the table once, under the event that last wrote it (Faust takes the changelog
partition from the current event). The agent flushes before it asks for the next
batch, so the writes are in the producer buffer before the batch is acknowledged and
before the commit that follows: a crash in between redelivers the batch, as it did
for the per-event writes.

>>> table = {"a": b"1"}
>>> behind = WriteBehind(table)
>>> behind["a"] = b"2"; behind["b"] = b"3"; behind["b"] = b"4"; del behind["a"]
>>> sorted(behind.items()), table, len(behind), "a" in behind
([('b', b'4')], {'a': b'1'}, 1, False)
>>> behind.flush(), table
(2, {'b': b'4'})
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, MutableMapping
from typing import Any, Final

from faust.streams import current_event

from streams.core.batches import use

DELETED: Final = object()


class WriteBehind(MutableMapping[str, bytes]):
    """A mapping over ``table`` whose writes wait for :meth:`flush` (module docstring)."""

    def __init__(
        self,
        table: MutableMapping[str, bytes],
        event_of: Callable[[], Any] = current_event,
    ) -> None:
        self.table = table
        self.event_of = event_of
        self.pending: dict[str, tuple[Any, Any]] = {}

    def __getitem__(self, key: str) -> bytes:
        found = self.pending.get(key)
        if found is None:
            return self.table[key]
        if found[0] is DELETED:
            raise KeyError(key)
        value: bytes = found[0]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        found = self.pending.get(key)
        if found is None:
            return self.table.get(key, default)
        return default if found[0] is DELETED else found[0]

    def __contains__(self, key: object) -> bool:
        found = self.pending.get(key) if isinstance(key, str) else None
        if found is None:
            return key in self.table
        return found[0] is not DELETED

    def __setitem__(self, key: str, value: bytes) -> None:
        self.pending[key] = (value, self.event_of())

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.pending[key] = (DELETED, self.event_of())

    def __iter__(self) -> Iterator[str]:
        for key in self.table:
            if key not in self.pending:
                yield key
        for key, (value, _) in list(self.pending.items()):
            if value is not DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def items(self) -> ItemsView[str, bytes]:
        """The table's own item iteration (a Faust table reads its store in one pass;
        key by key, a key of a partition not assigned here raises), with the writes
        not yet flushed over it."""
        return _Items(self)

    def flush(self) -> int:
        """Write each pending key once (its last value or a deletion); how many."""
        pending, self.pending = self.pending, {}
        table = self.table
        for key, (value, event) in pending.items():
            if event is not None:
                use(event)
            if value is DELETED:
                if key in table:
                    del table[key]
                else:  # deleted after a write this batch: the changelog needs the tombstone
                    table[key] = b""
                    del table[key]
            else:
                table[key] = value
        return len(pending)


class _Items(ItemsView[str, bytes]):
    _mapping: WriteBehind

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        behind = self._mapping
        pending = behind.pending
        for key, value in behind.table.items():
            if key not in pending:
                yield key, value
        for key, (value, _) in list(pending.items()):
            if value is not DELETED:
                yield key, value
