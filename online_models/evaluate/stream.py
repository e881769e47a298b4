"""One streamed pass of a model, timed, and the row it becomes in the evaluation table."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Final

from online_models.base import Features, OnlineModel, Prediction

STREAMED: Final = "River one-pass"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the evaluation table.

    ``us_per_event``: for a streamed model, the median ``predict_one`` plus the median
    ``learn_one`` time per example (medians: the machine is shared, a mean would
    measure the neighbours); for a batch baseline, fit + predict CPU per example.
    """

    model: str
    dataset: str
    method: str
    prequential: dict[str, float]
    holdout: dict[str, float]
    us_per_event: float | None
    n_train: int
    n_test: int
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Streamed:
    """What a test-then-train pass produced: predictions and their cost."""

    predictions: list[Prediction]
    predict_us: float
    learn_us: float
    cpu_us: float

    @property
    def notes(self) -> dict[str, float]:
        """The timing figures for a row's notes."""
        return {
            "predict_us_median": round(self.predict_us, 2),
            "learn_us_median": round(self.learn_us, 2),
            "cpu_us_mean_per_example": round(self.cpu_us, 2),
        }


def prequential_pass(model: OnlineModel, examples: Iterable[tuple[Features, Any]]) -> Streamed:
    """Predict then learn each example in order, timing both calls."""
    predictions: list[Prediction] = []
    predict_ns: list[int] = []
    learn_ns: list[int] = []
    clock = time.perf_counter_ns
    cpu = time.process_time()
    for x, y in examples:
        start = clock()
        predictions.append(model.predict_one(x))
        middle = clock()
        model.learn_one(x, y)
        learn_ns.append(clock() - middle)
        predict_ns.append(middle - start)
    cpu_us = (time.process_time() - cpu) / max(len(predictions), 1) * 1e6
    if not predictions:
        return Streamed([], 0.0, 0.0, 0.0)
    return Streamed(
        predictions, median(predict_ns) / 1e3, median(learn_ns) / 1e3, cpu_us
    )  # fmt: skip
