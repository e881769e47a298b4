"""Joining churn predictions with outcomes that arrive a horizon later (pure logic).

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

Memory is bounded by ``max_pending`` (a hold beyond it is refused and counted).

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> join = DelayedLabelJoin(timedelta(days=30))
>>> join.hold("c1", {"tenure": 1}, t0), join.hold("c2", {"tenure": 40}, t0)
(True, True)
>>> join.outcome("c1", cancelled=True, at=t0 + timedelta(days=3))
Labelled(customer_id='c1', features={'tenure': 1}, churned=True)
>>> [(j.customer_id, j.churned) for j in join.expire(t0 + timedelta(days=31))]
[('c2', False)]
>>> len(join)
0
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from online_models.base import ModelError


@dataclass(frozen=True, slots=True)
class Labelled:
    """A held prediction's features with the outcome that closed it."""

    customer_id: str
    features: dict[str, Any]
    churned: bool
    predicted_at: datetime = field(repr=False)


@dataclass(slots=True)
class _Pending:
    features: dict[str, Any]
    predicted_at: datetime
    deadline: datetime


class DelayedLabelJoin:
    """Pending churn predictions keyed by customer, closed by outcome or horizon."""

    def __init__(self, horizon: timedelta, *, max_pending: int = 1_000_000) -> None:
        if horizon <= timedelta(0):
            raise ModelError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self.max_pending = max_pending
        self.refused = 0
        self._pending: dict[str, _Pending] = {}
        self._deadlines: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def hold(self, customer_id: str, features: dict[str, Any], at: datetime) -> bool:
        """Open a pending prediction; ``False`` if one is open or the join is full."""
        if customer_id in self._pending:
            return False
        if len(self._pending) >= self.max_pending:
            self.refused += 1
            return False
        deadline = at + self.horizon
        self._pending[customer_id] = _Pending(dict(features), at, deadline)
        heapq.heappush(self._deadlines, (deadline, customer_id))
        return True

    def outcome(self, customer_id: str, *, cancelled: bool, at: datetime) -> Labelled | None:
        """Close ``customer_id``'s pending prediction with an observed outcome."""
        pending = self._pending.get(customer_id)
        if pending is None or at < pending.predicted_at:
            return None
        if cancelled and at > pending.deadline:
            return None
        del self._pending[customer_id]
        return Labelled(customer_id, pending.features, cancelled, pending.predicted_at)

    def expire(self, now: datetime) -> list[Labelled]:
        """Close every pending prediction whose deadline is at or before ``now``."""
        closed: list[Labelled] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, customer_id = heapq.heappop(self._deadlines)
            pending = self._pending.get(customer_id)
            if pending is None or pending.deadline != deadline:
                continue  # closed by an outcome, or a newer hold owns the customer
            del self._pending[customer_id]
            closed.append(Labelled(customer_id, pending.features, False, pending.predicted_at))
        return closed

    def forget(self, customer_id: str) -> int:
        """Erasure: drop the customer's pending prediction (its heap entry goes stale)."""
        return 1 if self._pending.pop(customer_id, None) is not None else 0
