"""Event-time windows of the customer features: bucket tiers and the window rule.

Times are whole seconds since the Unix epoch (UTC): an event's ``occurred_at``
truncated down (:func:`seconds`). Every window ends at the customer's *watermark*
``W``, the latest ``occurred_at`` among the customer's applied events (never the
wall clock, so a replay gives the same features as the live stream).

A window of span ``D`` over a tier of bucket width ``w`` holds the events whose
bucket ``t // w`` is one of the last ``D // w`` buckets up to and including the
bucket of ``W``::

    W // w - D // w  <  t // w  <=  W // w

so it covers between ``D - w`` and ``D`` seconds before ``W``. Buckets are aligned
at the epoch (day buckets start at UTC midnight). The tiers keep only the buckets
their longest window needs: 12 five-minute buckets (1 h), 24 hourly buckets (24 h)
and 30 daily buckets (7 d and 30 d), so a customer's state stays small.

>>> w = WINDOWS["1h"]
>>> w.contains(36_000, watermark=36_000 + 3_599), w.contains(36_000 - 1, watermark=39_599)
(True, False)
>>> [name for name in WINDOWS], WINDOW_NAMES[-1]
(['1h', '24h', '7d', '30d'], 'all')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final


@dataclass(frozen=True, slots=True)
class Tier:
    """Buckets of ``width`` seconds; the last ``keep`` of them are kept in the state."""

    width: int
    keep: int

    def bucket(self, t: int) -> int:
        return t // self.width

    def oldest_kept(self, watermark: int) -> int:
        """The oldest bucket still kept when the watermark is ``watermark``."""
        return watermark // self.width - self.keep + 1


TIERS: Final = (Tier(300, 12), Tier(3_600, 24), Tier(86_400, 30))
"""Five-minute, hourly and daily buckets."""


@dataclass(frozen=True, slots=True)
class Window:
    """A window: the last ``buckets`` buckets of tier ``tier`` (index into ``TIERS``)."""

    name: str
    tier: int
    buckets: int

    @property
    def span_s(self) -> int:
        return TIERS[self.tier].width * self.buckets

    def first_bucket(self, watermark: int) -> int:
        return watermark // TIERS[self.tier].width - self.buckets + 1

    def contains(self, t: int, *, watermark: int) -> bool:
        """Whether an event at ``t`` falls in this window ending at ``watermark``."""
        width = TIERS[self.tier].width
        return self.first_bucket(watermark) <= t // width <= watermark // width


WINDOWS: Final = {
    "1h": Window("1h", 0, 12),
    "24h": Window("24h", 1, 24),
    "7d": Window("7d", 2, 7),
    "30d": Window("30d", 2, 30),
}
WINDOW_NAMES: Final = (*WINDOWS, "all")
"""The windowed features' suffixes: the four windows, then all time."""
LONGEST_S: Final = max(TIERS[w.tier].width * w.buckets for w in WINDOWS.values())
"""30 days: open tickets and unanswered messages older than this are no longer counted."""


def seconds(moment: datetime) -> int:
    """Epoch seconds of an aware datetime, truncated down (the feature time unit).

    >>> from datetime import UTC
    >>> seconds(datetime(1970, 1, 1, 0, 0, 1, 999_999, tzinfo=UTC))
    1
    """
    return math.floor(moment.timestamp())
