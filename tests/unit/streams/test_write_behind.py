"""The write-behind table: one write per dirty key per batch, under the key's last event."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from streams.core.write_behind import WriteBehind


class Recorded(MutableMapping[str, bytes]):
    """A table that records its writes and, like a Faust table, refuses key-by-key reads
    of keys it lists but does not own (another partition's)."""

    def __init__(self, data: dict[str, bytes], foreign: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.data = data
        self.foreign = foreign
        self.writes: list[tuple[str, bytes | None]] = []

    def __getitem__(self, key: str) -> bytes:
        if key in self.foreign:
            raise KeyError(key)
        return self.data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes.append((key, value))
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        self.writes.append((key, None))
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.data))

    def __len__(self) -> int:
        return len(self.data)

    def items(self) -> Any:
        return list(self.data.items())


class Event:
    """Stands for a Faust event: what the table takes its changelog partition from."""

    def __init__(self, n: int) -> None:
        self.n = n


def test_each_dirty_key_is_written_once_with_its_last_value() -> None:
    table = Recorded({"a": b"0"})
    made = [Event(n) for n in range(5)]
    events = iter(made)
    behind = WriteBehind(table, event_of=lambda: next(events))
    behind["a"] = b"1"
    behind["a"] = b"2"
    behind["b"] = b"1"
    behind["c"] = b"1"
    del behind["c"]  # written and deleted in the batch: a tombstone all the same
    assert table.writes == [] and behind["a"] == b"2" and "c" not in behind
    assert behind.pending["a"][1] is made[1], "the key's last writer is its context"
    assert behind.flush() == 3
    assert table.writes == [("a", b"2"), ("b", b"1"), ("c", b""), ("c", None)]
    assert table.data == {"a": b"2", "b": b"1"} and behind.pending == {}
    assert behind.flush() == 0


def test_items_read_the_table_in_one_pass_with_pending_writes_over_it() -> None:
    table = Recorded({"mine": b"1", "other": b"2"}, foreign={"other"})
    behind = WriteBehind(table, event_of=lambda: None)
    behind["new"] = b"3"
    del behind["mine"]
    assert sorted(behind.items()) == [("new", b"3"), ("other", b"2")]
