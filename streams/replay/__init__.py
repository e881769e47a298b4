"""Replay sources: real datasets and a synthetic generator as time-ordered events.

``SOURCES[name](path, seed=..., limit=..., start=...)`` yields :class:`ReplayRecord`
(event time, customer id as the partition key, a JSON-ready event dict valid for
``schemas.events.parse_event``). :func:`merge` interleaves several sources by time.
No Kafka here: ``rapport replay`` produces these records.

>>> sorted(SOURCES)
['banking77', 'bitext', 'synthetic', 'telco', 'tweets']
>>> [r.event["type"] for r in SOURCES["telco"](limit=2)]
['subscription', 'subscription']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final

from streams.replay.base import DEFAULT_START, ReplayError, ReplayRecord, SourceFn, merge
from streams.replay.datasets import banking77, bitext, bitext_references, tweets
from streams.replay.pacing import ending_at
from streams.replay.synthetic import synthetic
from streams.replay.telco import CHURN_HORIZON, telco

SOURCES: Final[dict[str, SourceFn]] = {
    "tweets": tweets,
    "bitext": bitext,
    "banking77": banking77,
    "telco": telco,
    "synthetic": synthetic,
}


def source_records(
    names: list[str], *, seed: int, limit: int, start: datetime | None, tweets_path: str | None
) -> Iterator[Any]:
    """Each named source's first ``limit`` records, merged in event-time order."""
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        msg = f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(sorted(SOURCES))}"
        raise ReplayError(msg)
    streams = [
        SOURCES[name](
            tweets_path if name == "tweets" else None, seed=seed, limit=limit, start=start
        )
        for name in names
    ]
    return merge(*streams)


def timed_records(
    names: list[str],
    *,
    seed: int,
    limit: int,
    tweets_path: str | None,
    now: datetime | None = None,
    live: bool = False,
) -> Iterable[Any]:
    """:func:`source_records` with their times: from the fixed start by default; with
    ``now`` and ``live`` (a paced replay), from ``now``, each record then stamped as it is
    sent (:class:`~streams.replay.pacing.LiveClock`); with ``now`` alone (full speed), the
    whole timeline shifted to end at ``now`` (:func:`~streams.replay.pacing.ending_at`):
    nothing dated ahead of the clock."""
    if now is None or live:
        return source_records(names, seed=seed, limit=limit, start=now, tweets_path=tweets_path)
    return ending_at(
        lambda: source_records(names, seed=seed, limit=limit, start=None, tweets_path=tweets_path),
        now,
    )


__all__ = [
    "CHURN_HORIZON",
    "DEFAULT_START",
    "SOURCES",
    "ReplayError",
    "ReplayRecord",
    "SourceFn",
    "banking77",
    "bitext",
    "bitext_references",
    "merge",
    "source_records",
    "synthetic",
    "telco",
    "timed_records",
    "tweets",
]
