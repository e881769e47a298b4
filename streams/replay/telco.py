"""Replay source over the IBM Telco Customer Churn dataset.

Each customer (``customerID`` is the customer id) yields a ``subscription`` event
``started`` and, ``CHURN_HORIZON`` later, its outcome: ``cancelled`` when ``Churn`` is
``Yes``, else ``retained``. Event ids are ``telco-{row}-started`` and
``telco-{row}-{outcome}`` (``row``: 0-based data row).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Final

from streams.replay.base import (
    DATA_DIR,
    ReplayError,
    ReplayRecord,
    arrivals,
    check_options,
    envelope,
    read_rows,
    resolve,
    take,
    to_id,
    with_followups,
)

TELCO_PATH: Final = DATA_DIR / "Telco-Customer-Churn.csv"
CHURN_HORIZON: Final = timedelta(days=30)
"""Time from a customer's ``started`` event to its churn outcome."""
TELCO_MEAN_GAP_S: Final = 60.0
"""Mean seconds between two customers' ``started`` events (exponential, seeded)."""

_OUTCOMES: Final = {"Yes": "cancelled", "No": "retained"}
_TYPED_COLUMNS: Final = ("customerID", "Contract", "MonthlyCharges", "tenure", "Churn")
"""Columns with a field of their own (or the label): not repeated in ``attributes``."""


def _number(fields: dict[str, str], column: str, row: int) -> float:
    try:
        return float(fields[column])
    except ValueError as exc:
        raise ReplayError(f"Telco row {row}: bad {column} {fields[column]!r}") from exc


def _attributes(fields: dict[str, str]) -> dict[str, str]:
    """The remaining columns as strings; blank values (11 ``TotalCharges``) are omitted."""
    return {
        column: value.strip()
        for column, value in fields.items()
        if column not in _TYPED_COLUMNS and value.strip()
    }


def _customer(
    row: int, fields: dict[str, str], when: datetime
) -> tuple[ReplayRecord, list[ReplayRecord]]:
    outcome = _OUTCOMES.get(fields["Churn"])
    if outcome is None:
        raise ReplayError(f"Telco row {row}: Churn must be Yes or No, got {fields['Churn']!r}")
    customer = to_id(fields["customerID"], fallback=f"telco-cust-{row}")
    plan = fields["Contract"].strip() or "unknown"
    started = envelope("subscription", f"telco-{row}-started", customer, when, "telco")
    started.update(
        action="started",
        plan=plan,
        monthly_charges=_number(fields, "MonthlyCharges", row),
        tenure_months=int(_number(fields, "tenure", row)),
        attributes=_attributes(fields),
    )
    later = when + CHURN_HORIZON
    ended = envelope("subscription", f"telco-{row}-{outcome}", customer, later, "telco")
    ended.update(action=outcome, plan=plan)
    return ReplayRecord(when, customer, started), [ReplayRecord(later, customer, ended)]


def telco(
    path: Path | str | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    start: datetime | None = None,
) -> Iterator[ReplayRecord]:
    """Telco customers' subscriptions and their churn outcome ``CHURN_HORIZON`` later.

    The dataset has no dates: customers start in file order from ``start``, with
    seeded exponential gaps of mean ``TELCO_MEAN_GAP_S`` seconds. ``started`` carries
    ``plan`` (Contract), ``monthly_charges``, ``tenure_months`` and every other
    column but ``Churn`` in ``attributes``.
    """
    first = check_options(limit, start)
    rows = read_rows(resolve(path, TELCO_PATH), (*_TYPED_COLUMNS, "TotalCharges"))
    times = arrivals(Random(seed), first, TELCO_MEAN_GAP_S)
    pairs = (_customer(row, fields, next(times)) for row, fields in enumerate(rows))
    return take(with_followups(pairs), limit)
