"""One row (or one group of rows) of the user's file to one event of the contract.

Pure: no I/O. A cell that is empty (``""`` or JSON ``null``) counts as missing: the
field is left out, or takes its ``[constants]`` value. Cells become the contract's
types here (numbers, times, lists, mapped values); the contract itself (required
fields, ranges, ids) is checked afterwards by the ingest's own validation, so an
import refuses exactly what the ingest would refuse, with the same reason codes.

With ``type_from``, a row keeps only the mapped fields of its own event type.

The event id is ``{source}-{value}`` of the mapped ``event_id`` column if there is one
(ids of two systems may collide; the ingest de-duplicates by event id), else
``{source}-{digest}``: a digest of the group's rows (with the event type and the
constants), so a file imported twice yields
the same ids (the ingest drops the second copy) and identical rows are one event.

>>> from streams.backfill.mapping import parse_mapping
>>> m = parse_mapping('''source = "desk"
... type = "rating"
... [fields]
... customer_id = "Email"
... occurred_at = "When"
... score = "Stars"''')
>>> done = convert([(1, {"Email": "a@b.io", "When": "2024-05-01T10:00:00", "Stars": "4"})], m)
>>> done.event["score"], done.event["occurred_at"], done.event["event_id"][:5]
(4, '2024-05-01T10:00:00+00:00', 'desk-')
>>> convert([(2, {"Email": "a@b.io", "When": "soon", "Stars": "4"})], m).reason
"row 2: column 'When': 'soon' is not an ISO 8601 time"
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from streams.backfill.mapping import EVENT_TYPES, Mapping

Row = dict[str, Any]
FLOATS: Final = frozenset({"amount", "unit_price", "monthly_charges"})
INTS: Final = frozenset({"quantity", "score", "tenure_months"})


@dataclass(frozen=True, slots=True)
class Converted:
    """A row's event, JSON-ready, not yet checked against the contract."""

    row: int
    at: datetime
    customer_id: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refused:
    """A row that does not map: its number, a reason code and a sentence naming the cell."""

    row: int
    reason_code: str
    reason: str


class _CellError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def convert(group: Sequence[tuple[int, Row]], mapping: Mapping) -> Converted | Refused:
    """The event of one row, or of a group of rows (``group_by``: one item per row)."""
    first = group[0][0]
    try:
        return _convert(group, mapping)
    except _CellError as bad:
        return Refused(first, bad.code, f"row {first}: {bad.reason}")


def _convert(group: Sequence[tuple[int, Row]], mapping: Mapping) -> Converted:
    rows = [row for _, row in group]
    event: dict[str, Any] = {"source": mapping.source}
    event["type"] = _event_type(rows, mapping)
    for name, column in mapping.fields.items():
        cell = _first(rows, column)
        if cell is not None:
            event[name] = _value(name, column, cell, mapping)
    for name, value in mapping.constants.items():
        event.setdefault(name, value)
    model = EVENT_TYPES.get(event["type"])
    if mapping.type_from and model is not None:  # rows of several types: each its own fields
        event = {k: v for k, v in event.items() if k in model.model_fields}
    if "customer_id" not in event:
        raise _CellError("missing_column", f"column {mapping.fields['customer_id']!r} is empty")
    if "occurred_at" not in event:
        raise _CellError("missing_column", f"column {mapping.fields['occurred_at']!r} is empty")
    if mapping.attributes:
        found = {k: _text(_first(rows, c)) for k, c in mapping.attributes.items()}
        event["attributes"] = {k: v for k, v in found.items() if v is not None}
    if mapping.items:
        event["items"] = [item for row in rows if (item := _item(row, mapping)) is not None]
    at = event["occurred_at"]
    event["occurred_at"] = at.isoformat()
    event["customer_id"] = str(event["customer_id"])
    if "event_id" in event:  # ids of other sources may collide: the source prefixes it
        event["event_id"] = f"{mapping.source}-{event['event_id']}"
    else:
        event["event_id"] = f"{mapping.source}-{_digest(rows, event['type'], mapping)}"
    return Converted(group[0][0], at, event["customer_id"], event)


def _event_type(rows: list[Row], mapping: Mapping) -> str:
    if mapping.event_type is not None:
        return mapping.event_type
    column = mapping.type_from or ""
    cell = _first(rows, column)
    if cell is None:
        raise _CellError("missing_column", f"column {column!r} (the event type) is empty")
    return str(_mapped("type", column, cell, mapping))


def _value(name: str, column: str, cell: Any, mapping: Mapping) -> Any:
    if name in mapping.strip:
        cell = str(cell).strip().strip(mapping.strip[name])
    if name == "occurred_at":
        return _time(column, cell, mapping)
    if name in mapping.split:
        parts = str(cell).split(mapping.split[name])
        return [_mapped(name, column, p.strip(), mapping) for p in parts if p.strip()]
    value = _mapped(name, column, cell, mapping)
    if name in FLOATS or name in INTS:
        return _number(column, value, float if name in FLOATS else int)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # an id or a label given as a JSON number
    return value


def _mapped(name: str, column: str, cell: Any, mapping: Mapping) -> Any:
    table = mapping.values.get(name)
    if table is None:
        return cell
    key = str(cell).strip()
    if key in table:
        return table[key]
    if "*" in table:
        return table["*"]
    raise _CellError("unmapped_value", f"column {column!r}: {key!r} is not in [values.{name}]")


def _number(column: str, cell: Any, kind: type[float] | type[int]) -> float | int:
    if isinstance(cell, bool):
        raise _CellError("bad_number", f"column {column!r}: {cell!r} is not a number")
    try:
        number = float(str(cell).strip()) if not isinstance(cell, int | float) else cell
    except ValueError:
        raise _CellError("bad_number", f"column {column!r}: {cell!r} is not a number") from None
    if kind is int:
        if float(number) != int(number):
            raise _CellError("bad_number", f"column {column!r}: {cell!r} is not a whole number")
        return int(number)
    return float(number)


def _time(column: str, cell: Any, mapping: Mapping) -> datetime:
    fmt = mapping.time_format
    text = str(cell).strip()
    try:
        if fmt in ("epoch", "epoch_ms"):
            seconds = float(text) / (1000.0 if fmt == "epoch_ms" else 1.0)
            return datetime.fromtimestamp(seconds, UTC)
        at = datetime.fromisoformat(text) if fmt == "iso" else datetime.strptime(text, fmt)
    except (ValueError, OverflowError, OSError):
        shown = "an ISO 8601 time" if fmt == "iso" else f"a time of format {fmt!r}"
        raise _CellError("bad_time", f"column {column!r}: {text!r} is not {shown}") from None
    return at.replace(tzinfo=mapping.timezone) if at.tzinfo is None else at


def _item(row: Row, mapping: Mapping) -> dict[str, Any] | None:
    cells = {name: _cell(row, column) for name, column in mapping.items.items()}
    if all(cell is None for cell in cells.values()):
        return None  # a row of the group without an item (e.g. a shipping line)
    item: dict[str, Any] = {}
    for name, cell in cells.items():
        column = mapping.items[name]
        if cell is None:
            raise _CellError("missing_column", f"column {column!r} (order item {name}) is empty")
        if name == "quantity":
            item[name] = _number(column, cell, int)
        elif name == "unit_price":
            item[name] = _number(column, cell, float)
        else:
            item[name] = str(cell).strip()
    return item


def _cell(row: Row, column: str) -> Any:
    value = row.get(column)
    if value is None and "." in column and column not in row:
        value = row
        for part in column.split("."):  # a nested JSON field: "customer.email"
            value = value.get(part) if isinstance(value, dict) else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _first(rows: list[Row], column: str) -> Any:
    """The group's first non-empty cell of ``column`` (order fields sit on its first row)."""
    for row in rows:
        cell = _cell(row, column)
        if cell is not None:
            return cell
    return None


def _text(cell: Any) -> str | None:
    return None if cell is None else str(cell).strip()


def _digest(rows: list[Row], event_type: str, mapping: Mapping) -> str:
    """The rows, the event type and the constants: two mappings of one file (a ticket's
    opening and its closing) give distinct ids."""
    what = [rows, event_type, mapping.constants]
    return hashlib.sha256(orjson.dumps(what, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
