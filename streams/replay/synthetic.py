"""A seeded, endless generator of customer activity for replay and load tests.

Sessions (browse with page views, carts and orders or abandoned carts; support
cases with tickets, inbound messages, agent replies and ratings; product reviews)
start at exponential gaps scaled by a daily rhythm (``DAILY_RHYTHM``, by UTC hour:
busier in daytime), each for a customer drawn from a Zipf law (a few customers are
very active). Events of overlapping sessions interleave in time order through a
small heap, so memory stays bounded however many events are drawn.

>>> records = list(synthetic(seed=7, limit=3))
>>> records == list(synthetic(seed=7, limit=3))
True
>>> len(records), records[0].event["source"], records[0].at <= records[1].at <= records[2].at
(3, 'synthetic', True)
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import Final

from streams.replay.base import Event, ReplayError, ReplayRecord, check_options, take
from streams.replay.sessions import SessionBuilder

SESSIONS_PER_HOUR: Final = 2_000.0
"""Mean sessions started per hour where ``DAILY_RHYTHM`` is 1.0 (about 5 events each)."""
# fmt: off
DAILY_RHYTHM: Final = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 1.0, 1.3, 1.5, 1.6,
    1.6, 1.5, 1.5, 1.5, 1.5, 1.6, 1.7, 1.7, 1.5, 1.1, 0.6, 0.3,
)
# fmt: on
"""Activity multiplier per UTC hour of day."""
ZIPF_EXPONENT: Final = 0.8
"""Customer activity skew: with 10,000 customers the top 1% hold about 30% of sessions."""
PRODUCTS: Final = 500
DISORDER_SHIFT_S: Final = (2.0, 300.0)
"""An out-of-order event claims to have occurred this many seconds before its emission."""
LATE_SHIFT_S: Final = (3_600.0, 6 * 3_600.0)
"""A late event claims to have occurred this many seconds (1-6 hours) before."""

_ID: Final = re.compile(r"^[A-Za-z0-9._:@\-/+=]{1,128}$")


def _customers(customers: Sequence[str] | None, n_customers: int, rnd: Random) -> list[str]:
    """The customer population, most active first (a seeded shuffle of a given list)."""
    if customers is None:
        if n_customers < 1:
            raise ReplayError(f"n_customers must be >= 1, got {n_customers}")
        return [f"syn-cust-{k:06d}" for k in range(n_customers)]
    chosen = list(dict.fromkeys(customers))
    bad = [c for c in chosen if not _ID.match(c)]
    if not chosen or bad:
        raise ReplayError(f"customers must be a non-empty list of valid ids, bad: {bad[:5]}")
    rnd.shuffle(chosen)
    return chosen


def _timeline(
    builder: SessionBuilder, rnd: Random, start_s: float, per_hour: float
) -> Iterator[tuple[float, int, Event]]:
    """Endless ``(epoch seconds, sequence, event)`` in time order, sessions interleaved."""
    heap: list[tuple[float, int, Event]] = []
    push, pop = heapq.heappush, heapq.heappop
    mean_gap = 3_600.0 / per_hour
    clock, seq, number = start_s, 0, 0
    while True:
        clock += rnd.expovariate(1.0) * mean_gap / DAILY_RHYTHM[int(clock // 3_600) % 24]
        while heap and heap[0][0] <= clock:
            yield pop(heap)
        for offset, event in builder.build(number):
            push(heap, (clock + offset, seq, event))
            seq += 1
        number += 1


def _stamped(
    timeline: Iterator[tuple[float, int, Event]], disorder: float, late: float, shifts: Random
) -> Iterator[ReplayRecord]:
    """Records with ``occurred_at`` set, some shifted back (out-of-order or late)."""
    from_ts = datetime.fromtimestamp
    shifting = disorder + late > 0.0
    for emitted, _, event in timeline:
        draw = shifts.random() if shifting else 1.0
        if draw < disorder:
            claimed = emitted - shifts.uniform(*DISORDER_SHIFT_S)
        elif draw < disorder + late:
            claimed = emitted - shifts.uniform(*LATE_SHIFT_S)
        else:
            claimed = emitted
        at = from_ts(claimed, UTC)
        event["occurred_at"] = at.isoformat()
        yield ReplayRecord(at, event["customer_id"], event)


def synthetic(
    path: Path | str | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    start: datetime | None = None,
    customers: Sequence[str] | None = None,
    n_customers: int = 10_000,
    disorder: float = 0.0,
    late: float = 0.0,
    sessions_per_hour: float = SESSIONS_PER_HOUR,
) -> Iterator[ReplayRecord]:
    """Seeded synthetic events from ``start``: exactly ``limit`` of them (endless if None).

    ``customers`` replaces the ``n_customers`` generated ids ``syn-cust-NNNNNN`` (to
    overlap another source's customers; their Zipf ranks are a seeded shuffle).
    ``disorder`` is the share of events whose ``at``/``occurred_at`` claims a time a
    few seconds to minutes earlier (out-of-order arrivals), ``late`` the share
    claiming 1-6 hours earlier (late events); records are still yielded in emission
    order, so those stand out of time order. The shifts use their own random stream:
    the same seed gives the same events whatever ``disorder`` and ``late`` are.
    ``path`` must be None (there is no file).
    """
    first = check_options(limit, start)
    if path is not None:
        raise ReplayError("the synthetic source reads no file: pass path=None")
    if min(disorder, late) < 0.0 or disorder + late > 1.0:
        raise ReplayError(f"need disorder, late >= 0 with a sum <= 1, got {disorder}, {late}")
    if sessions_per_hour <= 0:
        raise ReplayError(f"sessions_per_hour must be > 0, got {sessions_per_hour}")
    rnd = Random(seed)
    builder = SessionBuilder(rnd, _customers(customers, n_customers, rnd), ZIPF_EXPONENT, PRODUCTS)
    timeline = _timeline(builder, rnd, first.timestamp(), sessions_per_hour)
    return take(_stamped(timeline, disorder, late, Random(f"{seed}:shifts")), limit)
