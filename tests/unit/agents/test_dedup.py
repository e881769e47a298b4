"""Ingest's dedup index: duplicates found across batches and seals, redeliveries kept,
memory bounded by ids and by time, and the index rebuilt from its table records."""

from __future__ import annotations

import numpy as np

from agents.dedup import Limits, PartitionIds, decode, hash_id


def fresh() -> dict[str, bytes]:
    return {}


def run_batch(
    ids: PartitionIds, table: dict[str, bytes], batch: list[tuple[str, int]], now: float
) -> list[bool]:
    """One ingest batch as the agent runs it: sealed lookup at once, then in order."""
    digests = [hash_id(e) for e, _ in batch]
    sealed = ids.sealed_offsets(np.array(digests, dtype=np.uint64))
    out = [
        ids.first_time(d, offset, int(s))
        for d, (_, offset), s in zip(digests, batch, sealed, strict=True)
    ]
    for key, value in ids.end_batch(now):
        if value is None:
            del table[key]
        else:
            table[key] = value
    return out


def test_duplicates_found_in_the_open_chunk_in_sealed_chunks_and_within_a_batch() -> None:
    ids, table = PartitionIds(0, Limits(horizon_s=3600, max_ids=10_000, seal_ids=10)), fresh()
    first = [(f"e{i}", i) for i in range(25)]
    assert run_batch(ids, table, first, now=0.0) == [True] * 25
    assert ids.sealed, "25 ids past a seal of 10 are sealed"
    # each earlier id again (new offsets), twice within one batch for e30
    again = [(f"e{i}", 100 + i) for i in range(0, 25, 3)] + [("e30", 200), ("e30", 201)]
    assert run_batch(ids, table, again, now=1.0) == [False] * 9 + [True, False]


def test_a_redelivery_at_the_same_offset_is_forwarded_again() -> None:
    ids, table = PartitionIds(0, Limits(horizon_s=3600, max_ids=10_000, seal_ids=4)), fresh()
    batch = [(f"e{i}", i) for i in range(10)]
    run_batch(ids, table, batch, now=0.0)
    # after a crash the same records are read again at the same offsets: not duplicates
    assert run_batch(ids, table, batch, now=1.0) == [True] * 10


def test_ids_are_bounded_by_max_ids_and_forgotten_oldest_first() -> None:
    limits = Limits(horizon_s=10**9, max_ids=1_000, seal_ids=100)
    ids, table = PartitionIds(0, limits), fresh()
    offset = 0
    for batch_no in range(100):  # 10,000 distinct ids, 100 per batch
        batch = [(f"e{offset + i}", offset + i) for i in range(100)]
        run_batch(ids, table, batch, now=float(batch_no))
        offset += 100
        assert ids.size <= limits.max_ids + limits.seal_ids
    assert ids.size >= 3 * limits.max_ids // 4
    # the newest ids are still known, the first ones forgotten (forwarded again)
    assert run_batch(ids, table, [("e9999", 20_000), ("e0", 20_001)], now=200.0) == [False, True]
    # the table holds what memory holds: records bounded by ids, not by events
    total: int = sum(decode(v)[1].size for v in table.values())
    assert total <= limits.max_ids + limits.seal_ids + 2


def test_ids_older_than_the_horizon_are_forgotten() -> None:
    ids, table = PartitionIds(0, Limits(horizon_s=160, max_ids=10**6, seal_ids=1_000)), fresh()
    run_batch(ids, table, [("old", 1)], now=0.0)
    run_batch(ids, table, [("x", 2)], now=20.0)  # a sixteenth of the horizon: sealed
    assert run_batch(ids, table, [("old", 3)], now=100.0) == [False]  # within the horizon
    run_batch(ids, table, [("y", 4)], now=400.0)  # the sealed chunk is now past it
    assert run_batch(ids, table, [("old", 5)], now=401.0) == [True]
    assert not any(key.endswith("1".zfill(20)) for key in table), "expired records deleted"


def test_the_index_is_rebuilt_from_its_table_records() -> None:
    limits = Limits(horizon_s=3600, max_ids=100_000, seal_ids=50)
    ids, table = PartitionIds(3, limits), fresh()
    for b in range(7):  # 7 batches of 30: some sealed, some in open batch records
        run_batch(ids, table, [(f"e{b}-{i}", b * 30 + i) for i in range(30)], now=float(b))
    assert any(":s" in k for k in table) and any(":o" in k for k in table)
    assert all(k.startswith("3:") for k in table)
    restored = PartitionIds(3, limits)
    assert restored.restore(sorted(table.items())) == []
    assert restored.size == ids.size == 210
    check = [(f"e{b}-{i}", 1_000 + b) for b in range(7) for i in (0, 29)] + [("new", 2_000)]
    assert run_batch(restored, dict(table), check, now=10.0) == [False] * 14 + [True]
    # a record of another version is skipped with its key in the reason, not fatal
    bad = PartitionIds(3, limits)
    errors = bad.restore([("3:o00000000000000000001", b"\x01\x02")])
    assert len(errors) == 1 and "3:o00000000000000000001" in errors[0]


def test_a_million_ids_take_16_bytes_each_in_sealed_chunks() -> None:
    limits = Limits(horizon_s=10**9, max_ids=1_000_000, seal_ids=16_384)
    ids = PartitionIds(0, limits)
    for start in range(0, 1_000_000, 50_000):
        for offset in range(start, start + 50_000):
            ids.first_time(offset * 2_654_435_761 % 2**64, offset)
        ids.end_batch(float(start))
    held = sum(c.hashes.nbytes + c.offsets.nbytes for c in ids.sealed)
    assert ids.size == 1_000_000
    assert held <= 16 * 1_000_000 and len(ids.open) < limits.seal_ids
    assert len(ids.sealed) <= 5, "sealed chunks merged: few arrays to search per batch"
