"""What an import would send: every row converted and checked, the valid events in order.

Each event is checked by the ingest's own validation (:func:`schemas.validate.check`,
same limits), so a row the ingest would dead-letter is refused here with the same
reason code. A row whose event id was already produced by an earlier row of the file
is refused as ``duplicate_id`` (the ingest would drop it). The valid events are sent
in event-time order (ties: file order), so each customer's history arrives in order
whatever the file's order (exports are often newest first); they are held in memory
as their JSON bytes to sort them (~0.5 KB per event).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from schemas.validate import Limits, Rejection, check
from streams.backfill.convert import Converted, Refused, convert
from streams.backfill.files import groups, read_rows
from streams.backfill.mapping import Mapping


@dataclass(frozen=True, slots=True)
class Ready:
    """One valid event, as it will be produced."""

    at: datetime
    row: int
    event_type: str
    key: bytes
    value: bytes


@dataclass
class Plan:
    """The outcome of reading a file with a mapping."""

    rows: int = 0
    ready: list[Ready] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    def by_type(self) -> Counter[str]:
        return Counter(r.event_type for r in self.ready)

    def by_reason(self) -> Counter[str]:
        return Counter(r.reason_code for r in self.refused)

    def customers(self) -> int:
        return len({r.key for r in self.ready})


def plan(path: Path, mapping: Mapping, limits: Limits, now: datetime) -> Plan:
    """Read, convert and check every row of ``path`` (module docstring)."""
    out = Plan()
    seen: dict[str, int] = {}
    for group in groups(read_rows(path, mapping), mapping.group_by):
        if isinstance(group, Refused):
            out.rows += 1
            out.refused.append(group)
            continue
        out.rows += len(group)
        converted = convert(group, mapping)
        done = (
            _checked(converted, limits, now, seen)
            if isinstance(converted, Converted)
            else converted
        )
        if isinstance(done, Refused):
            out.refused.append(done)
        else:
            out.ready.append(done)
    out.ready.sort(key=lambda r: (r.at, r.row))
    return out


def _checked(
    done: Converted, limits: Limits, now: datetime, seen: dict[str, int]
) -> Ready | Refused:
    value = orjson.dumps(done.event)
    key = done.customer_id.encode()
    result = check(value, key, now, limits)
    if isinstance(result, Rejection):
        return Refused(done.row, result.reason_code, f"row {done.row}: {result.reason}")
    event_id = str(done.event["event_id"])
    first = seen.setdefault(event_id, done.row)
    if first != done.row:
        reason = f"row {done.row}: event id {event_id!r} is already row {first}'s"
        return Refused(done.row, "duplicate_id", reason)
    return Ready(done.at, done.row, str(done.event["type"]), key, value)
