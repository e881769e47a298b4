"""The churn delayed-label join kept in a table: labels, bounds, restores and bad bytes."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from online_models.base import ModelError
from online_models.delayed import (
    CHURNED,
    OPEN,
    DelayedLabelJoin,
    Hold,
    HoldError,
    _Pending,
    by_partition,
    header,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
KEYS = ("tenure", "orders")


def attached(
    table: dict[str, bytes], learnt_offset: int = -1, partition: int = 0, **kw: int
) -> DelayedLabelJoin:
    join = DelayedLabelJoin(30 * DAY, partition=partition, positional=KEYS, **kw)
    join.attach(table, learnt_offset=learnt_offset)
    return join


def test_labels_by_outcome_or_horizon() -> None:
    table: dict[str, bytes] = {}
    join = attached(table)
    assert join.hold("quits", {"tenure": 1}, T0)
    assert join.hold("stays", {"tenure": 50}, T0)
    assert join.hold("late", {"tenure": 9}, T0)
    assert not join.hold("quits", {"tenure": 2}, T0 + DAY)  # one open hold per customer
    quit_label = join.outcome("quits", cancelled=True, at=T0 + 10 * DAY, offset=5)
    assert quit_label is not None
    assert (quit_label.churned, quit_label.features) == (True, {"tenure": 1, "orders": None})
    assert join.outcome("nobody", cancelled=True, at=T0, offset=6) is None
    assert join.outcome("late", cancelled=True, at=T0 - DAY, offset=7) is None  # before it
    expired = join.expire(T0 + 30 * DAY, offset=8)
    assert sorted((e.customer_id, e.churned) for e in expired) == [
        ("late", False),
        ("stays", False),
    ]
    assert join.outcome("late", cancelled=True, at=T0 + 31 * DAY, offset=9) is None  # too late
    assert join.outcome("quits", cancelled=True, at=T0 + 11 * DAY, offset=9) is None  # twice
    assert len(join) == 0
    # every hold stays in the table, closed, with the offset that closed it
    closed = {cid: header(raw) for cid, raw in table.items()}
    assert {cid: (h[1], h[5]) for cid, h in closed.items()} == {
        "quits": (CHURNED, 5),
        "stays": (1, 8),
        "late": (1, 8),
    }


def test_retention_forget_and_bound() -> None:
    table: dict[str, bytes] = {}
    join = attached(table, max_pending=2)
    assert join.hold("a", {}, T0)
    assert join.hold("b", {}, T0)
    assert not join.hold("c", {}, T0)
    assert join.refused == 1 and "c" not in table
    retained = join.outcome("a", cancelled=False, at=T0 + DAY / 2, offset=3)
    assert retained is not None and not retained.churned
    assert join.forget("b") == 1 and "b" not in table
    assert join.forget("b") == 0
    assert join.expire(T0 + 40 * DAY, offset=4) == []
    assert join.hold("b", {"tenure": 3}, T0 + 41 * DAY)  # a closed or erased customer reopens
    assert join.hold("a", {"tenure": 4}, T0 + 41 * DAY)
    assert header(table["a"])[1] == OPEN
    with pytest.raises(ModelError):
        DelayedLabelJoin(timedelta(0))


def test_hold_encoding_round_trips_and_is_compact() -> None:
    features = {"tenure": 12, "orders": 3.5, "Contract": "One year", "MonthlyCharges": None}
    hold = Hold(7, T0, T0 + 30 * DAY, features).closed(True, 42)
    raw = hold.encode(KEYS)
    assert Hold.decode(raw, KEYS) == hold
    assert len(raw) < 120  # positional keys are not repeated per customer
    with pytest.raises(HoldError):
        Hold.decode(b"\x09" + raw[1:], KEYS)  # another format version
    with pytest.raises(HoldError):
        Hold.decode(raw[:30] + b"{not json", KEYS)


def test_a_restore_relearns_closures_after_the_checkpoint_and_keeps_open_holds() -> None:
    """The model checkpoint (offset 10) predates two closures (offsets 11, 12): a crash
    lost what the model learnt from them, the table did not; the restored join returns
    them once, keeps the open holds and expires them as before."""
    table: dict[str, bytes] = {}
    join = attached(table, partition=2)
    for cid in ("ann", "bob", "cat", "dan"):
        join.hold(cid, {"tenure": len(cid) + ord(cid[0])}, T0)
    join.hold("zoe", {}, T0 + 5 * DAY)
    assert join.outcome("ann", cancelled=True, at=T0 + DAY, offset=9) is not None
    assert join.outcome("bob", cancelled=True, at=T0 + DAY, offset=12) is not None
    assert join.outcome("cat", cancelled=False, at=T0 + DAY, offset=11) is not None
    checkpoint = pickle.dumps(join)
    assert (
        b"dan" not in checkpoint and b"zoe" not in checkpoint
    )  # the holds are in the table, not the checkpoint

    other = {"x": Hold(3, T0, T0 + DAY, {}).encode(KEYS)}  # another partition's hold
    table.update(other)
    restored: DelayedLabelJoin = pickle.loads(checkpoint)
    assert len(restored) == 0  # detached until attached
    restored.attach(table, learnt_offset=10, entries=by_partition(table)[2])
    assert [(r.customer_id, r.churned) for r in restored.take_redo()] == [
        ("cat", False),
        ("bob", True),
    ]
    assert restored.take_redo() == []
    assert len(restored) == 2  # d and z are still open; a was learnt before the checkpoint
    assert restored.outcome("bob", cancelled=True, at=T0 + DAY, offset=12) is None  # redelivered
    expired = restored.expire(T0 + 31 * DAY, offset=13)
    assert [(e.customer_id, e.features) for e in expired] == [
        ("dan", {"tenure": 3 + ord("d"), "orders": None})
    ]
    assert len(restored) == 1 and header(table["x"])[1] == OPEN  # x is not this partition's


def test_a_fresh_model_relearns_only_the_latest_closures() -> None:
    table: dict[str, bytes] = {}
    join = attached(table)
    for i in range(5):
        join.hold(f"c{i}", {"tenure": i}, T0)
        join.outcome(f"c{i}", cancelled=True, at=T0 + DAY, offset=i)
    fresh = attached(table, learnt_offset=-1)
    fresh.attach(table, learnt_offset=-1, max_redo=2)
    assert [r.customer_id for r in fresh.take_redo()] == ["c3", "c4"]


def test_unreadable_entries_are_counted_and_skipped() -> None:
    table = {"bad": b"junk", "ok": Hold(0, T0, T0 + DAY, {}).encode(KEYS)}
    join = attached(table)
    assert join.unreadable == 1 and len(join) == 1
    assert by_partition(table)[-1] == [("bad", b"junk")]
    table["ok"] = b"\x01\x00junk-that-is-too-short"
    assert join.expire(T0 + 2 * DAY, offset=1) == []
    assert join.unreadable == 2 and len(join) == 0


def test_a_checkpoint_from_before_the_table_moves_its_holds_into_it() -> None:
    legacy = DelayedLabelJoin.__new__(DelayedLabelJoin)
    state = {
        "horizon": 30 * DAY,
        "max_pending": 10,
        "refused": 0,
        "_pending": {"old": _Pending({"tenure": 2}, T0, T0 + 30 * DAY)},
        "_deadlines": [(T0 + 30 * DAY, "old")],
    }
    legacy.__setstate__(state)
    legacy.partition, legacy.positional = 4, KEYS
    table: dict[str, bytes] = {}
    legacy.attach(table, learnt_offset=0)
    assert Hold.decode(table["old"], KEYS) == Hold(
        4, T0, T0 + 30 * DAY, {"tenure": 2, "orders": None}
    )
    assert [e.customer_id for e in legacy.expire(T0 + 30 * DAY, offset=1)] == ["old"]


def test_a_closure_no_checkpoint_covers_is_carried_into_the_next_hold() -> None:
    table: dict[str, bytes] = {}
    join = attached(table, learnt_offset=3)
    join.hold("kim", {"tenure": 1}, T0)
    assert join.outcome("kim", cancelled=False, at=T0 + DAY, offset=5) is not None
    join.hold("kim", {"tenure": 2}, T0 + 2 * DAY)  # offset 5 is not checkpointed yet
    entry = Hold.decode(table["kim"], KEYS)
    assert entry.state == OPEN and entry.prev is not None
    assert (entry.prev.closed_at, entry.prev.state, entry.prev.features["tenure"]) == (5, 1, 1)
    assert header(table["kim"])[6] == 5
    # a crash now: the model restored as of offset 3 relearns the carried closure
    restored = attached(table, learnt_offset=3)
    assert [(r.customer_id, r.churned, r.features["tenure"]) for r in restored.take_redo()] == [
        ("kim", False, 1)
    ]
    assert len(restored) == 1  # and the new hold is open
    # closing the new hold keeps the carried one while no checkpoint covers it ...
    assert restored.outcome("kim", cancelled=True, at=T0 + 3 * DAY, offset=8) is not None
    assert [r.features["tenure"] for r in attached(table, learnt_offset=3).take_redo()] == [1, 2]
    # ... and a checkpoint past it means the next hold carries only the latest closure
    restored.checkpointed(5)
    restored.hold("kim", {"tenure": 3}, T0 + 4 * DAY)
    carried = Hold.decode(table["kim"], KEYS).prev
    assert carried is not None and carried.closed_at == 8 and carried.prev is None
    restored.checkpointed(8)
    restored.outcome("kim", cancelled=True, at=T0 + 5 * DAY, offset=9)
    assert Hold.decode(table["kim"], KEYS).prev is None  # covered: dropped when rewritten


def test_a_checkpointed_closure_is_not_carried() -> None:
    table: dict[str, bytes] = {}
    join = attached(table)
    join.hold("lee", {"tenure": 1}, T0)
    join.outcome("lee", cancelled=True, at=T0 + DAY, offset=5)
    join.checkpointed(5)
    join.hold("lee", {"tenure": 2}, T0 + 2 * DAY)
    assert Hold.decode(table["lee"], KEYS).prev is None
    assert attached(table, learnt_offset=5).take_redo() == []
