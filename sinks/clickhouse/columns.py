"""Column types as the sink sends them, and the check that a value fits its column.

Rows travel column by column; timestamps travel as epoch milliseconds (``int``),
which is several times faster to encode than ``datetime`` objects. A value that does
not fit its column (an ``UInt32`` given ``2**40``, a timestamp outside the range the
KPI tables can bucket) is found here, before the insert, and its row is rejected
(dead-lettered) with a specific reason instead of failing the whole batch.

>>> cols = (Column("n", "UInt8"), Column("at", DT64))
>>> for row, reason in misfits("t", cols, [[1, 300, 2], [0, 5, -1]]).items():
...     print(row, reason)
1 t.n = 300 does not fit UInt8 [0, 255]
2 t.at = -1 (1969-12-31T23:59:59.999Z) does not fit DateTime64 [1970-01-01, 2106-01-01)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

DT64: Final = "DateTime64(3, 'UTC')"
TIME_RANGE_MS: Final = (0, 4_291_747_200_000 - 1)
"""Event times must fit ClickHouse ``DateTime`` (1970-01-01 to 2106-01-01, exclusive): the
KPI tables bucket by it. ``0001-01-01`` (a common "unset" default) is rejected."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
INT_RANGES: Final = {
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
    "Int64": (-(2**63), 2**63 - 1),
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str

    @property
    def nullable(self) -> bool:
        return self.type.startswith("Nullable(")

    @property
    def base(self) -> str:
        return self.type[9:-1] if self.nullable else self.type

    @property
    def bounds(self) -> tuple[int, int] | None:
        if self.base == DT64:
            return TIME_RANGE_MS
        return INT_RANGES.get(self.base)


@dataclass(frozen=True)
class TableSpec:
    """A table the sink writes: columns in insert order, and the erasure keys."""

    name: str
    columns: tuple[Column, ...]
    customer_column: str | None = None
    time_column: str | None = None
    request_column: str | None = None
    """The event a row derives from: for an erased customer, kept only if that event was."""
    erase_any_time: bool = False
    """Refuse an erased customer's rows whatever their time (their time may be unknown)."""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def index(self, column: str | None) -> int | None:
        return None if column is None else self.names.index(column)


def misfits(table: str, columns: Sequence[Column], data: Sequence[Sequence[Any]]) -> dict[int, str]:
    """Row index -> reason, for every row with a value outside its column's range."""
    bad: dict[int, str] = {}
    for column, values in zip(columns, data, strict=True):
        bounds = column.bounds
        if bounds is None or _all_fit(values, bounds, column.nullable):
            continue
        for i, value in enumerate(values):
            if i not in bad and not _fits(value, bounds, column.nullable):
                bad[i] = (
                    f"{table}.{column.name} = {_shown(value, column)} does not fit {_range(column)}"
                )
    return dict(sorted(bad.items()))


def _all_fit(values: Sequence[Any], bounds: tuple[int, int], nullable: bool) -> bool:
    present = [v for v in values if v is not None] if nullable else values
    if not present:
        return True
    try:
        low, high = min(present), max(present)
    except TypeError:
        return False
    return (
        isinstance(low, int)
        and isinstance(high, int)
        and bounds[0] <= low
        and high <= bounds[1]
        and set(map(type, present)) == {int}
    )


def _fits(value: Any, bounds: tuple[int, int], nullable: bool) -> bool:
    if value is None:
        return nullable
    return type(value) is int and bounds[0] <= value <= bounds[1]


def _shown(value: Any, column: Column) -> str:
    if column.base == DT64 and type(value) is int:
        when = _EPOCH + timedelta(milliseconds=value)
        return f"{value} ({when.isoformat(timespec='milliseconds').replace('+00:00', 'Z')})"
    return repr(value)[:80]


def _range(column: Column) -> str:
    if column.base == DT64:
        return "DateTime64 [1970-01-01, 2106-01-01)"
    low, high = INT_RANGES[column.base]
    return f"{column.base} [{low}, {high}]"


def epoch_ms(when: datetime) -> int:
    """Milliseconds since 1970 (negative before, floored), exact for any aware datetime.

    >>> epoch_ms(datetime(1, 1, 1, tzinfo=UTC)), epoch_ms(datetime(1970, 1, 1, 0, 0, 0, 1999, UTC))
    (-62135596800000, 1)
    """
    return (when - _EPOCH) // _MS
