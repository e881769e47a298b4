"""The evaluation table as text.

>>> from online_models.evaluate.stream import Row
>>> row = Row("churn", "telco", "River one-pass", {"roc_auc": 0.84}, {"roc_auc": 0.857},
...           81.5, 5634, 1409)
>>> print(format_table([row]).splitlines()[1])  # doctest: +NORMALIZE_WHITESPACE
churn telco River one-pass AUC 0.840 AUC 0.857 81.5  5634/1409
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

from online_models.evaluate.stream import Row

SHORT: Final = {
    "accuracy": "acc",
    "macro_f1": "F1",
    "roc_auc": "AUC",
    "hit_at_3": "hit@3",
    "popularity_hit_at_3": "pop hit@3",
    "alert_precision": "P",
    "alert_recall": "R",
    "false_alert_rate": "FPR",
    "churn_rate_spread": "churn-rate spread",
    "overall_churn_rate": "base",
}
WIDTHS: Final = (9, 14, 32, 34, 34, 8)


def _figures(scores: Mapping[str, float]) -> str:
    parts = []
    for name, value in scores.items():
        shown = "n/a" if math.isnan(value) else f"{value:.3f}"
        parts.append(f"{SHORT.get(name, name)} {shown}")
    return "  ".join(parts) or "-"


def _line(cells: Sequence[str]) -> str:
    *fixed, last = cells
    out = []
    for i, (cell, width) in enumerate(zip(fixed, WIDTHS, strict=True)):
        out.append(cell.rjust(width) if i == len(WIDTHS) - 1 else cell.ljust(width))
    return " ".join(out) + "  " + last


def format_table(rows: Sequence[Row]) -> str:
    """One line per row; figures are rounded to 3 decimals, CPU microseconds to 0.1."""
    header = ("model", "dataset", "method", "prequential", "holdout", "us/event", "train/test")
    lines = [_line(header)]
    for row in rows:
        micros = "-" if row.us_per_event is None else f"{row.us_per_event:.1f}"
        lines.append(
            _line(
                (
                    row.model,
                    row.dataset,
                    row.method,
                    _figures(row.prequential),
                    _figures(row.holdout),
                    micros,
                    f"{row.n_train}/{row.n_test}",
                )
            )
        )
    return "\n".join(line.rstrip() for line in lines)
