"""The mapping file of ``rapport import``: the user's columns to the event contract.

A TOML file (the full format, with examples, is in ``docs/import.md``)::

    source = "zendesk"                 # the events' `source` (required)
    type = "ticket"                    # one event type for every row, or:
    # type_from = "Kind"               #   a column, with [values.type] for its values
    time_format = "%Y-%m-%d %H:%M:%S"  # strptime, "iso" (default), "epoch" or "epoch_ms"
    timezone = "UTC"                   # for times without an offset (IANA name)
    group_by = "Name"                  # consecutive rows with this value form one event

    [fields]      # contract field = the file's column
    [constants]   # contract field = a fixed value
    [values.F]    # the file's values of field F -> the contract's
    [split]       # list field = the separator inside its cell
    [strip]       # field = characters to strip from both ends of its cells ("#1001")
    [attributes]  # subscription attribute = the file's column
    [items]       # order item field = the file's column (one item per row of a group)

Everything is checked when the file is read: an unknown key, field or event type is
a :class:`MappingError` naming it, before any row is read.

>>> text = 'source = "shop"\\ntype = "rating"\\n[fields]\\ncustomer_id = "Email"\\n'
>>> m = parse_mapping(text + 'occurred_at = "Date"')
>>> m.source, m.event_type, m.fields["customer_id"]
('shop', 'rating', 'Email')
>>> parse_mapping(text.replace('type = "rating"', ''))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
streams.backfill.mapping.MappingError: mapping: give `type` (an event type) or `type_from` ...
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, Final, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.events import EVENT_TYPES as MODELS
from schemas.events import OrderItem
from streams.core.errors import RapportError

FORMATS: Final = ("csv", "jsonl")
TOP_KEYS: Final = frozenset(
    {
        "source",
        "type",
        "type_from",
        "format",
        "time_format",
        "timezone",
        "group_by",
        "fields",
        "constants",
        "values",
        "split",
        "strip",
        "attributes",
        "items",
    }
)
ITEM_FIELDS: Final = frozenset(OrderItem.model_fields)
EVENT_TYPES: Final = {get_args(m.model_fields["type"].annotation)[0]: m for m in MODELS}
"""Each event type of the contract (``"ticket"``...) and its model."""


class MappingError(RapportError):
    """The mapping file cannot be used: the message names the key and what is wrong."""


@dataclass(frozen=True)
class Mapping:
    """A checked mapping (see the module docstring)."""

    source: str
    event_type: str | None
    type_from: str | None
    fields: dict[str, str]
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    split: dict[str, str] = field(default_factory=dict)
    strip: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    time_format: str = "iso"
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    group_by: str | None = None
    format: str | None = None

    def columns(self) -> set[str]:
        """Every column of the file the mapping reads."""
        named = [*self.fields.values(), *self.attributes.values(), *self.items.values()]
        extra = [c for c in (self.type_from, self.group_by) if c]
        return {*named, *extra}


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"mapping {path}: cannot read it ({exc.strerror})") from exc
    return parse_mapping(text, where=str(path))


def parse_mapping(text: str, where: str = "mapping") -> Mapping:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{where}: not valid TOML: {exc}") from exc
    return _check(raw, where)


def _check(raw: dict[str, Any], where: str) -> Mapping:
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(unknown)}")
    source = _string(raw, "source", where, required=True)
    event_type = _string(raw, "type", where)
    type_from = _string(raw, "type_from", where)
    if (event_type is None) == (type_from is None):
        raise MappingError(f"{where}: give `type` (an event type) or `type_from` (a column)")
    if event_type is not None and event_type not in EVENT_TYPES:
        raise MappingError(
            f"{where}: type {event_type!r} is not an event type ({', '.join(sorted(EVENT_TYPES))})"
        )
    fields = _table(raw, "fields", where)
    if "customer_id" not in fields or "occurred_at" not in fields:
        raise MappingError(f"{where}: [fields] must name the customer_id and occurred_at columns")
    constants = _table(raw, "constants", where, strings=False)
    values = _values(raw, where)
    known = _known_fields(event_type)
    for table, names in (("fields", fields), ("constants", constants), ("values", values)):
        bad = sorted(n for n in names if n not in known and n != "type")
        if bad:
            raise MappingError(
                f"{where}: [{table}] {', '.join(bad)}: not field(s) of "
                f"{event_type or 'any event type'}"
            )
    for name, allowed in values.get("type", {}).items():
        if allowed not in EVENT_TYPES:
            raise MappingError(f"{where}: [values.type] {name!r} = {allowed!r}: not an event type")
    items = _table(raw, "items", where)
    bad_items = sorted(set(items) - ITEM_FIELDS)
    if bad_items:
        raise MappingError(f"{where}: [items] {', '.join(bad_items)}: not order item field(s)")
    fmt = _string(raw, "format", where)
    if fmt is not None and fmt not in FORMATS:
        raise MappingError(f"{where}: format {fmt!r}: use one of {', '.join(FORMATS)}")
    return Mapping(
        source=source or "",
        event_type=event_type,
        type_from=type_from,
        fields=fields,
        constants=constants,
        values=values,
        split=_table(raw, "split", where),
        strip=_table(raw, "strip", where),
        attributes=_table(raw, "attributes", where),
        items=items,
        time_format=_string(raw, "time_format", where) or "iso",
        timezone=_zone(_string(raw, "timezone", where) or "UTC", where),
        group_by=_string(raw, "group_by", where),
        format=fmt,
    )


def _known_fields(event_type: str | None) -> set[str]:
    models = [EVENT_TYPES[event_type]] if event_type else list(EVENT_TYPES.values())
    return {name for model in models for name in model.model_fields}


def _string(raw: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise MappingError(f"{where}: `{key}` is required")
        return None
    if not isinstance(value, str) or not value:
        raise MappingError(f"{where}: `{key}` must be a non-empty string")
    return value


def _table(raw: dict[str, Any], key: str, where: str, *, strings: bool = True) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"{where}: [{key}] must be a table")
    for name, item in value.items():
        if strings and not (isinstance(item, str) and item):
            raise MappingError(f"{where}: [{key}] {name}: must be a non-empty string")
        if not strings and isinstance(item, dict):
            raise MappingError(f"{where}: [{key}] {name}: must be a value, not a table")
    return dict(value)


def _values(raw: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    tables = raw.get("values", {})
    if not isinstance(tables, dict):
        raise MappingError(f"{where}: [values] must be a table of tables")
    out: dict[str, dict[str, Any]] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise MappingError(f"{where}: [values.{name}] must be a table")
        out[name] = dict(table)
    return out


def _zone(name: str, where: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"{where}: timezone {name!r} is not an IANA time zone") from exc


__all__ = ["EVENT_TYPES", "FORMATS", "Mapping", "MappingError", "load_mapping", "parse_mapping"]
