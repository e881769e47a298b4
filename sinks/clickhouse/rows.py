"""Events to table rows (the ``events`` topic); Rapport's published records: ``rows_published``.

A converter never raises: a record it cannot read comes back as a rejection (the
sink agent dead-letters it). Text is stored per the PII policy of
:mod:`sinks.pii_mask`; timestamps are epoch milliseconds (see :mod:`sinks.clickhouse.columns`).

>>> raw = (b'{"type": "rating", "event_id": "e1", "customer_id": "c1", "source": "web",'
...        b' "occurred_at": "2026-01-02T03:04:05Z", "score": 4, "comment": "mail a@b.io"}')
>>> out = from_event(raw, Origin("events", 0, 7))
>>> [(table, row[0], row[2], row[10], row[16]) for table, row in out.rows]
[('interactions', 'e1', 'rating', 'mail [email]', 4)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from pydantic import ValidationError

from schemas.events import DraftFeedback, ErasureRequest, Order, Rating, parse_event
from sinks.base import Origin, Row
from sinks.clickhouse.columns import epoch_ms
from sinks.pii_mask import redact

_COLUMNS: Final = frozenset(
    {
        "type",
        "event_id",
        "customer_id",
        "occurred_at",
        "source",
        "schema_version",
        "channel",
        "direction",
        "conversation_id",
        "agent_id",
        "text",
        "comment",
        "final_text",
        "ticket_id",
        "action",
        "verdict",
        "priority",
        "tags",
        "score",
        "amount",
        "currency",
        "order_id",
        "product_id",
    }
)


@dataclass(frozen=True, slots=True)
class Erasure:
    event_id: str
    customer_id: str
    requested_at: int
    reason: str


@dataclass(frozen=True, slots=True)
class Converted:
    """Rows by table, or an erasure to run, or why the record was refused."""

    rows: tuple[tuple[str, Row], ...] = ()
    erasure: Erasure | None = None
    rejection: tuple[str, str] | None = None


Converter = Callable[[bytes | None, Origin], Converted]


def refused(code: str, exc: Exception) -> Converted:
    return Converted(rejection=(code, f"{type(exc).__name__}: {exc}"[:2000]))


def from_event(raw: bytes | None, origin: Origin) -> Converted:
    """A validated event: an ``interactions`` row (+ ``draft_feedback``), or an erasure."""
    try:
        ev = parse_event(raw or b"")
    except (ValidationError, ValueError) as exc:
        return refused("invalid_event", exc)
    if isinstance(ev, ErasureRequest):
        return Converted(
            erasure=Erasure(ev.event_id, ev.customer_id, epoch_ms(ev.occurred_at), ev.reason or "")
        )
    rows: list[tuple[str, Row]] = [("interactions", _interaction(ev, origin))]
    if isinstance(ev, DraftFeedback):
        rows.append(
            (
                "draft_feedback",
                (
                    ev.event_id,
                    ev.draft_id,
                    ev.customer_id,
                    ev.verdict,
                    ev.agent_id or "",
                    redact(ev.final_text or ""),
                    epoch_ms(ev.occurred_at),
                    origin.partition,
                    origin.offset,
                ),
            )
        )
    return Converted(rows=tuple(rows))


def _interaction(ev: Any, origin: Origin) -> Row:
    d = ev.model_dump()
    get = d.get
    text = get("text") or get("comment") or get("final_text") or ""
    details = {k: v for k, v in d.items() if k not in _COLUMNS}
    return (
        d["event_id"],
        d["customer_id"],
        d["type"],
        epoch_ms(d["occurred_at"]),
        d["source"],
        d["schema_version"],
        get("channel", ""),
        get("direction", ""),
        get("conversation_id") or "",
        get("agent_id") or "",
        redact(text) if text else "",
        len(text),
        get("ticket_id", ""),
        get("action") or get("verdict", ""),
        get("priority", ""),
        get("tags", []),
        d["score"] if isinstance(ev, Rating) else None,
        d["amount"] if isinstance(ev, Order) else None,
        get("currency", ""),
        get("order_id", ""),
        get("product_id") or "",
        orjson.dumps(details).decode() if details else "",
        origin.partition,
        origin.offset,
    )
