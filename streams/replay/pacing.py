"""Live pacing: event times that follow the wall clock as the records are sent.

A dataset's own timeline runs at its own pace (the synthetic source: customer visits per
hour), so replayed at a fixed rate its event times drift away from the clock, and the
ingest refuses those that lead it by more than ``RAPPORT_MAX_FUTURE_SKEW_S``
(``future_timestamp``). :class:`LiveClock` stamps each record as it is sent instead,
keeping the dataset's order and how far each record trails the dataset's own clock
(the latest event time seen so far): an in-order record is stamped with the send time,
an out-of-order or late one that much earlier, so the stream keeps its shares of both.

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

from collections.abc import Callable
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
        live = self.now() - (self.watermark - at)
        event = dict(record.event)
        event["occurred_at"] = live.isoformat()
        return ReplayRecord(live, record.customer_id, event)
