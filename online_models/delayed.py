"""Joining churn predictions with outcomes that arrive a horizon later, kept in a table.

A churn label is only known later: a customer who cancels within ``horizon`` of a
prediction is a positive; one still there when the horizon passes is a negative. The
join holds the features the model scored (not later ones, which would leak the
outcome) until one of the two happens, in event time:

- :meth:`DelayedLabelJoin.hold` opens a pending prediction, one per customer; while one
  is open, later holds for that customer are ignored (returns ``False``);
- :meth:`DelayedLabelJoin.outcome` closes it: ``cancelled`` at or before the deadline
  gives ``True``; an explicit ``retained`` gives ``False``; an outcome after the
  deadline or with nothing pending gives nothing;
- :meth:`DelayedLabelJoin.expire` closes every hold whose deadline is at or before
  ``now`` (the watermark) with ``False``: retained at the horizon.

**Where holds live**: in ``store``, a mapping customer id -> encoded :class:`Hold`
(a changelog-backed Faust table in a worker, a dict in tests), one entry per customer:
its open hold, or its last closed one with the offset of the event that closed it. The
join object keeps only an index (open customers and their deadlines, no features),
rebuilt from the store by :meth:`DelayedLabelJoin.attach`; it pickles without store or
index, so a model checkpoint does not carry the holds. A restore is consistent because
of the closing offset: :meth:`attach` is given the offset the restored model learnt up
to, and every hold closed after it (an outcome the model learnt before a crash but lost
with it) is returned by :meth:`DelayedLabelJoin.take_redo`, to be learnt again. A
redelivered outcome finds its hold already closed and labels nothing, so nothing is
learnt twice. A customer's next hold would overwrite a closed one that no checkpoint
covers yet (:meth:`DelayedLabelJoin.checkpointed` tells the join what the last one
covered), so the new entry carries it as ``prev`` until then; only the customer's latest
uncovered closure is carried.

Memory is bounded by ``max_pending`` open holds (a hold beyond it is refused and
counted).

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> table = {}
>>> join = DelayedLabelJoin(timedelta(days=30))
>>> join.attach(table, learnt_offset=-1)
>>> join.hold("c1", {"tenure": 1}, t0), join.hold("c2", {"tenure": 40}, t0)
(True, True)
>>> join.outcome("c1", cancelled=True, at=t0 + timedelta(days=3), offset=7)
Labelled(customer_id='c1', features={'tenure': 1}, churned=True)
>>> [(j.customer_id, j.churned) for j in join.expire(t0 + timedelta(days=31), offset=9)]
[('c2', False)]
>>> len(join), sorted(table)
(0, ['c1', 'c2'])
>>> again = DelayedLabelJoin(timedelta(days=30))  # a model restored as of offset 8
>>> again.attach(table, learnt_offset=8)
>>> [(j.customer_id, j.churned) for j in again.take_redo()]
[('c2', False)]
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from online_models.base import ModelError

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
_HEADER: Final = struct.Struct("<BBiqqqq")
"""format version, state, partition, predicted at (µs), deadline (µs), closing offset,
closing offset of the carried previous hold (``-1``: none)."""
_VERSION: Final = 1
OPEN, RETAINED, CHURNED = 0, 1, 2


class HoldError(ModelError):
    """Bytes in the holds table that are not an encoded :class:`Hold`."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """A held prediction's features with the outcome that closed it."""

    customer_id: str
    features: dict[str, Any]
    churned: bool
    predicted_at: datetime = field(repr=False)


@dataclass(frozen=True, slots=True)
class Hold:
    """One customer's entry in the holds table: open, or closed at ``closed_at``."""

    partition: int
    predicted_at: datetime
    deadline: datetime
    features: dict[str, Any]
    state: int = OPEN
    closed_at: int = -1
    """Offset of the event that closed the hold (``-1`` while open)."""
    prev: Hold | None = None
    """The customer's previous hold, closed after the last model checkpoint: a crash
    before the next checkpoint must still be able to relearn it."""

    def encode(self, positional: tuple[str, ...]) -> bytes:
        """Header, then ``[values of positional keys, {other keys}, prev]`` as JSON
        (``prev``: ``[state, predicted, deadline, values, rest]`` or ``null``)."""
        prev = self.prev
        carried = None
        if prev is not None:
            values, rest = prev._split(positional)
            times = (_micros(prev.predicted_at), _micros(prev.deadline))
            carried = [prev.state, *times, values, rest]
        head = _HEADER.pack(
            _VERSION,
            self.state,
            self.partition,
            _micros(self.predicted_at),
            _micros(self.deadline),
            self.closed_at,
            -1 if prev is None else prev.closed_at,
        )
        return head + orjson.dumps([*self._split(positional), carried])

    def _split(self, positional: tuple[str, ...]) -> tuple[list[Any], dict[str, Any]]:
        feats = self.features
        rest = {k: v for k, v in feats.items() if k not in positional}
        return [feats.get(k) for k in positional], rest

    @classmethod
    def decode(cls, raw: bytes, positional: tuple[str, ...]) -> Hold:
        _, state, partition, predicted, deadline, closed_at, prev_at = header(raw)
        try:
            values, rest, carried = orjson.loads(raw[_HEADER.size :])
            prev = None
            if carried is not None:
                p_state, p_predicted, p_deadline, p_values, p_rest = carried
                p_features = _features(positional, p_values, p_rest)
                times = (_time(p_predicted), _time(p_deadline))
                prev = cls(partition, *times, p_features, p_state, prev_at)
            features = _features(positional, values, rest)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise HoldError(f"unreadable hold features: {exc}") from exc
        times = (_time(predicted), _time(deadline))
        return cls(partition, *times, features, state, closed_at, prev)

    def closed(self, churned: bool, offset: int) -> Hold:
        return replace(self, state=CHURNED if churned else RETAINED, closed_at=offset)

    def labelled(self, customer_id: str) -> Labelled:
        return Labelled(customer_id, self.features, self.state == CHURNED, self.predicted_at)


@dataclass(slots=True)
class _Pending:
    """An open hold as checkpoints written before the holds table held it (read once,
    by :meth:`DelayedLabelJoin.attach`, which moves it into the table)."""

    features: dict[str, Any]
    predicted_at: datetime
    deadline: datetime


def header(raw: bytes) -> tuple[int, int, int, int, int, int, int]:
    """The fixed-size head of an encoded hold (cheap: no JSON is parsed): version,
    state, partition, predicted at, deadline, closing offset, the previous hold's one."""
    if len(raw) < _HEADER.size or raw[0] != _VERSION:
        raise HoldError(f"not an encoded hold ({len(raw)} bytes)")
    fields: tuple[int, int, int, int, int, int, int] = _HEADER.unpack_from(raw)
    if fields[1] not in (OPEN, RETAINED, CHURNED):
        raise HoldError(f"unknown hold state {fields[1]}")
    return fields


def _features(
    positional: tuple[str, ...], values: list[Any], rest: dict[str, Any]
) -> dict[str, Any]:
    return {**dict(zip(positional, values, strict=True)), **rest}


def _micros(at: datetime) -> int:
    return (at - EPOCH) // _US


def _time(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class DelayedLabelJoin:
    """Pending churn predictions of one partition, closed by outcome or horizon."""

    def __init__(
        self,
        horizon: timedelta,
        *,
        max_pending: int = 1_000_000,
        partition: int = 0,
        positional: tuple[str, ...] = (),
    ) -> None:
        if horizon <= timedelta(0):
            raise ModelError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self.max_pending = max_pending
        self.partition = partition
        self.positional = positional
        self.refused = 0
        """Holds refused because ``max_pending`` were open."""
        self.unreadable = 0
        """Entries of the store that did not decode (skipped, counted)."""
        self.covered = -1
        """The offset the model's last checkpoint learnt up to (:meth:`checkpointed`)."""
        self._detach()

    def _detach(self) -> None:
        self.store: MutableMapping[str, bytes] = {}
        self._open: dict[str, int] = {}  # customer -> deadline (µs)
        self._deadlines: list[tuple[int, str]] = []
        self._redo: list[Labelled] = []
        self._legacy: dict[str, _Pending] = {}

    def __getstate__(self) -> dict[str, Any]:
        keep = ("horizon", "max_pending", "partition", "positional", "refused", "unreadable")
        return {name: getattr(self, name) for name in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        legacy: dict[str, _Pending] = state.pop("_pending", {})
        state.pop("_deadlines", None)
        defaults = {"partition": 0, "positional": (), "unreadable": 0, "covered": -1}
        self.__dict__.update({**defaults, **state})
        self._detach()  # holds live in the store: attach() indexes them again
        self._legacy = legacy

    def __len__(self) -> int:
        return len(self._open)

    # --- the store
    def attach(
        self,
        store: MutableMapping[str, bytes],
        *,
        learnt_offset: int,
        entries: Iterable[tuple[str, bytes]] | None = None,
        max_redo: int = 10_000,
    ) -> None:
        """Index this partition's holds in ``store`` (``entries``: its items, already
        picked out, else all of ``store`` is read); the last ``max_redo`` holds closed
        after ``learnt_offset`` are kept for :meth:`take_redo` (a model restored from a
        checkpoint misses one interval's worth; a fresh one relearns the latest
        closures, bounded so that the first event after a restore stays short)."""
        legacy = self._legacy
        self._detach()
        self.store = store
        self.covered = learnt_offset
        for customer_id, pending in legacy.items():  # a checkpoint from before the table
            if customer_id not in store:
                old = Hold(self.partition, pending.predicted_at, pending.deadline, pending.features)
                store[customer_id] = old.encode(self.positional)
                self._index(customer_id, _micros(old.deadline))
        redo: list[tuple[int, str, bytes]] = []
        for customer_id, raw in store.items() if entries is None else entries:
            try:
                _, state, partition, _, deadline, closed_at, prev_at = header(raw)
            except HoldError:
                self.unreadable += 1
                continue
            if partition != self.partition:
                continue
            if state == OPEN:
                self._index(customer_id, deadline)
            elif closed_at > learnt_offset:
                redo.append((closed_at, customer_id, raw))
            if prev_at > learnt_offset:
                redo.append((prev_at, customer_id, raw))
        redo.sort(key=lambda r: (r[0], r[1]))
        for closed_at, customer_id, raw in redo[max(0, len(redo) - max_redo) :]:
            try:
                found = Hold.decode(raw, self.positional)
            except HoldError:
                self.unreadable += 1
                continue
            if found.closed_at != closed_at and found.prev is not None:
                found = found.prev
            self._redo.append(found.labelled(customer_id))

    def checkpointed(self, offset: int) -> None:
        """The model's checkpoint now holds what it learnt up to ``offset``: closed holds
        up to there need not be carried into the customer's next hold."""
        self.covered = max(self.covered, offset)

    def take_redo(self) -> list[Labelled]:
        """Closed holds the attached model has not learnt (see the module docstring)."""
        redo, self._redo = self._redo, []
        return redo

    def _index(self, customer_id: str, deadline: int) -> None:
        self._open[customer_id] = deadline
        heapq.heappush(self._deadlines, (deadline, customer_id))

    def _load(self, customer_id: str) -> Hold | None:
        raw = self.store.get(customer_id)
        if raw is None:
            return None
        try:
            return Hold.decode(raw, self.positional)
        except HoldError:
            self.unreadable += 1
            return None

    # --- the join
    def hold(self, customer_id: str, features: dict[str, Any], at: datetime) -> bool:
        """Open a pending prediction; ``False`` if one is open or the join is full."""
        if customer_id in self._open:
            return False
        if len(self._open) >= self.max_pending:
            self.refused += 1
            return False
        found = Hold(
            self.partition, at, at + self.horizon, dict(features), prev=self._uncovered(customer_id)
        )
        self.store[customer_id] = found.encode(self.positional)
        self._index(customer_id, _micros(found.deadline))
        return True

    def _uncovered(self, customer_id: str) -> Hold | None:
        """The customer's closed hold if no checkpoint covers it yet (it is carried into
        the next hold, without its own previous one)."""
        raw = self.store.get(customer_id)
        if raw is None:
            return None
        try:
            closed_at = header(raw)[5]
            last = Hold.decode(raw, self.positional) if closed_at > self.covered else None
        except HoldError:
            self.unreadable += 1
            return None
        return None if last is None or last.state == OPEN else replace(last, prev=None)

    def outcome(
        self, customer_id: str, *, cancelled: bool, at: datetime, offset: int
    ) -> Labelled | None:
        """Close ``customer_id``'s pending prediction with an outcome seen at ``offset``."""
        if customer_id not in self._open:
            return None
        found = self._load(customer_id)
        if found is None or found.state != OPEN:
            self._open.pop(customer_id)
            return None
        if at < found.predicted_at or (cancelled and at > found.deadline):
            return None
        return self._close(customer_id, found, cancelled, offset)

    def expire(self, now: datetime, *, offset: int) -> list[Labelled]:
        """Close every pending prediction whose deadline is at or before ``now``."""
        closed: list[Labelled] = []
        limit = _micros(now)
        heap = self._deadlines
        while heap and heap[0][0] <= limit:
            deadline, customer_id = heapq.heappop(heap)
            if self._open.get(customer_id) != deadline:
                continue  # closed by an outcome, or a newer hold owns the customer
            found = self._load(customer_id)
            if found is None or found.state != OPEN:
                self._open.pop(customer_id)
                continue
            closed.append(self._close(customer_id, found, False, offset))
        return closed

    def _close(self, customer_id: str, found: Hold, churned: bool, offset: int) -> Labelled:
        if found.prev is not None and found.prev.closed_at <= self.covered:
            found = replace(found, prev=None)  # checkpointed since: no longer carried
        done = found.closed(churned, offset)
        self.store[customer_id] = done.encode(self.positional)
        del self._open[customer_id]
        return done.labelled(customer_id)

    def forget(self, customer_id: str) -> int:
        """Erasure: drop the customer's hold, open or closed (its heap entry goes stale)."""
        self._open.pop(customer_id, None)
        if customer_id not in self.store:
            return 0
        del self.store[customer_id]
        return 1


def by_partition(store: MutableMapping[str, bytes]) -> dict[int, list[tuple[str, bytes]]]:
    """The store's entries grouped by the partition in their header (one pass; entries
    that do not decode are left for :meth:`DelayedLabelJoin.attach` to count)."""
    groups: dict[int, list[tuple[str, bytes]]] = {}
    for customer_id, raw in store.items():
        try:
            partition = header(raw)[2]
        except HoldError:
            partition = -1
        groups.setdefault(partition, []).append((customer_id, raw))
    return groups
