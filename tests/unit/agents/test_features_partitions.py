"""Where the feature agent reads a partition from, and the records it must read back."""

from __future__ import annotations

import orjson

from agents.customer_features.partitions import Partitions, RawRecord
from features.definitions import Rules
from features.engine import FeatureEngine
from streams.core.settings import Settings


class FakePartitions(Partitions):
    """Partition 0 holds records 0..99 whose event ids are ``e{offset}``."""

    def __init__(self) -> None:
        super().__init__(Settings(_env_file=None), "events", FeatureEngine({}, {}, Rules()))
        self.reads: list[tuple[int, int, int]] = []

    async def read(self, partition: int, start: int, end: int) -> list[RawRecord]:
        self.reads.append((partition, start, end))
        return [RawRecord(o, b"c", orjson.dumps({"event_id": f"e{o}"})) for o in range(start, end)]


async def test_start_reloads_the_ids_before_the_committed_offset() -> None:
    parts = FakePartitions()
    await parts.start(0, 10)
    assert parts.next == {0: 10} and parts.reads == [(0, 0, 10)]
    window = parts.engine.recent[0]
    assert window.seen_before("e3", 40), "a re-forwarded copy of e3 is a duplicate"
    assert not window.seen_before("e10", 10)


async def test_jumps_are_read_back_and_rewinds_are_not() -> None:
    parts = FakePartitions()
    await parts.start(0, 10)
    assert await parts.missed(0, 10) == []
    missed = await parts.missed(0, 14)
    assert [r.offset for r in missed] == [11, 12, 13]
    assert await parts.missed(0, 12) == [], "a redelivery: the engine skips it by offset"
    assert parts.next[0] == 13
    parts.forget({0})
    assert parts.next == {}


async def test_an_unprepared_partition_starts_at_its_first_record() -> None:
    parts = FakePartitions()
    assert await parts.missed(0, 50) == []
    assert parts.next == {0: 51} and parts.reads == [(0, 0, 50)]
