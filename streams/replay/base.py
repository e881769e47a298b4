"""What every replay source yields, and the helpers the sources share.

A source is a function ``(path, *, seed, limit, start) -> Iterator[ReplayRecord]``
(:class:`SourceFn`). Its records come in event-time order, and its events are plain
JSON-ready dicts that pass ``schemas.events.parse_event``. Event ids depend on the
dataset row only, so replaying a file twice produces the same ids (the ingest
dedups them).

>>> a = [ReplayRecord(at(0), "c1", {}), ReplayRecord(at(20), "c1", {})]
>>> b = [ReplayRecord(at(10), "c2", {})]
>>> [r.customer_id for r in merge(a, b)]
['c1', 'c2', 'c1']
>>> to_id("Late Flightncy", fallback="anon-1"), to_id("", fallback="anon-1")
('Late_Flightncy', 'anon-1')
"""

from __future__ import annotations

import csv
import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from random import Random
from typing import Any, Final, Protocol

from schemas.events import SCHEMA_VERSION
from streams.core.errors import RapportError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DATA_DIR: Final = REPO_ROOT / "data"
DEFAULT_START: Final = datetime(2024, 1, 1, tzinfo=UTC)
"""Where seeded timelines begin when no ``start`` is given (fixed, for determinism)."""

Event = dict[str, Any]

_BAD_ID_CHARS: Final = re.compile(r"[^A-Za-z0-9._:@\-/+=]")
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_ID: Final = 128
_MAX_TEXT: Final = 20_000
AGENTS: Final = tuple(f"agent-{k:02d}" for k in range(20))


class ReplayError(RapportError):
    """A replay source cannot run: missing file, unexpected column, bad option."""


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    """One event to replay: its event time, its partition key and the event itself."""

    at: datetime
    customer_id: str
    event: Event


class SourceFn(Protocol):
    """The signature every entry of ``streams.replay.SOURCES`` has."""

    def __call__(
        self,
        path: Path | str | None = None,
        *,
        seed: int = 0,
        limit: int | None = None,
        start: datetime | None = None,
    ) -> Iterator[ReplayRecord]: ...


def at(seconds: float) -> datetime:
    """``DEFAULT_START`` plus ``seconds`` (a shorthand for examples and tests)."""
    return DEFAULT_START + timedelta(seconds=seconds)


def _record_at(record: ReplayRecord) -> datetime:
    return record.at


def merge(*sources: Iterable[ReplayRecord]) -> Iterator[ReplayRecord]:
    """Merge sources that are each in time order into one stream in time order.

    A merge, not a sort: records a source yields out of order (the synthetic
    ``disorder``/``late`` options) stay close to where that source put them.
    """
    return heapq.merge(*sources, key=_record_at)


def to_id(raw: str, *, fallback: str) -> str:
    """``raw`` made a valid event ``Id`` (bad characters become ``_``), else ``fallback``."""
    cleaned = _BAD_ID_CHARS.sub("_", raw.strip())[:_MAX_ID]
    return cleaned or fallback


def clean_text(raw: str) -> str:
    """``raw`` without control characters (tab, newline and CR kept), at most 20,000 chars."""
    return _CONTROL_CHARS.sub("", raw)[:_MAX_TEXT]


def iso(moment: datetime) -> str:
    """ISO-8601 with the offset; refuses naive datetimes (they would not validate)."""
    if moment.utcoffset() is None:
        raise ReplayError(f"naive datetime {moment!r}: replay times need a timezone")
    return moment.isoformat()


def envelope(kind: str, event_id: str, customer_id: str, moment: datetime, source: str) -> Event:
    """The fields every event carries; the caller adds the type's own fields."""
    return {
        "type": kind,
        "event_id": event_id,
        "customer_id": customer_id,
        "occurred_at": iso(moment),
        "source": source,
        "schema_version": SCHEMA_VERSION,
    }


def resolve(path: Path | str | None, default: Path) -> Path:
    """The file to read: ``path`` or ``default``; a missing file is a :class:`ReplayError`."""
    chosen = Path(path) if path is not None else default
    if not chosen.is_file():
        raise ReplayError(f"replay data file not found: {chosen} (pass its path explicitly)")
    return chosen


def read_rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """All rows of a CSV file (quoted line breaks handled), checking its header."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [col for col in required if col not in (reader.fieldnames or [])]
        if missing:
            raise ReplayError(f"{path}: missing column(s) {missing}")
        return list(reader)


def check_options(limit: int | None, start: datetime | None) -> datetime:
    """Validate the common options; returns the start to use."""
    if limit is not None and limit < 0:
        raise ReplayError(f"limit must be >= 0, got {limit}")
    if start is None:
        return DEFAULT_START
    iso(start)
    return start


def take(records: Iterator[ReplayRecord], limit: int | None) -> Iterator[ReplayRecord]:
    """The first ``limit`` records (all when ``limit`` is None), lazily."""
    return records if limit is None else islice(records, limit)


def arrivals(rnd: Random, start: datetime, mean_gap_s: float) -> Iterator[datetime]:
    """Endless seeded arrival times after ``start`` (exponential gaps of mean ``mean_gap_s``)."""
    moment = start
    while True:
        moment += timedelta(seconds=rnd.expovariate(1.0 / mean_gap_s))
        yield moment


def with_followups(
    items: Iterable[tuple[ReplayRecord, Sequence[ReplayRecord]]],
) -> Iterator[ReplayRecord]:
    """Interleave primary records (in time order) with follow-ups due at or after them.

    Follow-ups (labels, churn outcomes) wait in a heap and are yielded as soon as the
    next primary record is not earlier, so the output stays in time order.
    """
    pending: list[tuple[datetime, int, ReplayRecord]] = []
    seq = 0
    for record, followups in items:
        while pending and pending[0][0] <= record.at:
            yield heapq.heappop(pending)[2]
        yield record
        for followup in followups:
            heapq.heappush(pending, (followup.at, seq, followup))
            seq += 1
    while pending:
        yield heapq.heappop(pending)[2]
