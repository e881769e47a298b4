"""Event times near now: live pacing, or a compressed timeline that ends now.

A dataset's own timeline runs at its own pace (the synthetic source: customer visits per
hour), so replayed at a fixed rate its event times drift away from the clock, and the
ingest refuses those that lead it by more than ``RAPPORT_MAX_FUTURE_SKEW_S``
(``future_timestamp``). :class:`LiveClock` stamps each record as it is sent instead,
keeping the dataset's order and how far each record trails the dataset's own clock
(the latest event time seen so far): an in-order record is stamped with the send time,
an out-of-order or late one that much earlier, so the stream keeps its shares of both.

Replayed at full speed instead, a timeline starting now would run ahead of the clock just
the same; :func:`ending_at` shifts the dataset's whole timeline so that its latest event
is now: the compressed timeline is kept, and nothing is dated ahead of the clock.

>>> from datetime import timedelta
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> sent = iter([t0 + timedelta(hours=9), t0 + timedelta(hours=9, seconds=1)])
>>> clock = LiveClock(now=lambda: next(sent))
>>> first = clock.stamp(ReplayRecord(t0, "c1", {"occurred_at": t0.isoformat()}))
>>> late = clock.stamp(ReplayRecord(t0 - timedelta(hours=2), "c1", {"occurred_at": "..."}))
>>> first.at == t0 + timedelta(hours=9), late.event["occurred_at"]
(True, '2024-01-01T07:00:01+00:00')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from streams.replay.base import ReplayRecord


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LiveClock:
    """Restamps records at send time, each keeping its lag behind the dataset's clock."""

    now: Callable[[], datetime] = utc_now
    watermark: datetime | None = None
    """The latest event time of the dataset seen so far."""

    def stamp(self, record: ReplayRecord) -> ReplayRecord:
        at = record.at
        if self.watermark is None or at > self.watermark:
            self.watermark = at
        return restamp(record, self.now() - (self.watermark - at))


def restamp(record: ReplayRecord, at: datetime) -> ReplayRecord:
    """``record`` with its event time (and the event's ``occurred_at``) set to ``at``."""
    event = dict(record.event)
    event["occurred_at"] = at.isoformat()
    return ReplayRecord(at, record.customer_id, event)


def ending_at(make: Callable[[], Iterable[ReplayRecord]], end: datetime) -> Iterator[ReplayRecord]:
    """The records of ``make()`` with their timeline shifted to end at ``end``.

    ``make`` is called twice (the sources are seeded: the same records each time): once
    for the latest event time, once to yield, so nothing is held in memory.

    >>> from datetime import timedelta
    >>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
    >>> def make():
    ...     return [ReplayRecord(t0 + timedelta(hours=h), "c", {}) for h in (0, 5, 3)]
    >>> [r.event["occurred_at"] for r in ending_at(make, datetime(2026, 6, 1, tzinfo=UTC))]
    ['2026-05-31T19:00:00+00:00', '2026-06-01T00:00:00+00:00', '2026-05-31T22:00:00+00:00']
    """
    latest = max((r.at for r in make()), default=None)
    if latest is None:
        return
    shift = end - latest
    for record in make():
        yield restamp(record, record.at + shift)
