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

from typing import Final

from streams.replay.base import DEFAULT_START, ReplayError, ReplayRecord, SourceFn, merge
from streams.replay.datasets import banking77, bitext, bitext_references, tweets
from streams.replay.synthetic import synthetic
from streams.replay.telco import CHURN_HORIZON, telco

SOURCES: Final[dict[str, SourceFn]] = {
    "tweets": tweets,
    "bitext": bitext,
    "banking77": banking77,
    "telco": telco,
    "synthetic": synthetic,
}

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
    "synthetic",
    "telco",
    "tweets",
]
