"""Cold against warm-started text models, prequentially (test, then learn) over each
dataset's holdout: a stream neither the snapshot nor the cold model has seen. Accuracy
over the first 100 and 1,000 events and over the whole stream; an abstention (a cold
model before its first label) counts as wrong, as it is useless to a user.

Tweets (sentiment) are scored where the file is found (``../shared/data``); it is not
shipped, and not in the snapshot either."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from online_models.evaluate import data
from online_models.text_models import IntentModel, SentimentModel
from online_models.warm import WarmStart

SPANS = (100, 1_000, None)


@dataclass(frozen=True)
class WarmRow:
    model: str
    dataset: str
    events: int
    cold: tuple[float, ...]
    warm: tuple[float, ...]


def prequential(model: Any, stream: Sequence[tuple[str, str]]) -> tuple[float, ...]:
    """Accuracy over each span of ``SPANS`` (test, then learn, per event)."""
    right: list[bool] = []
    for text, label in stream:
        right.append(model.predict_one({"text": text}).value == label)
        model.learn_one({"text": text}, label)
    return tuple(sum(right[:n]) / len(right[:n]) for n in SPANS)


def evaluate_warm(warm: WarmStart, data_dir: Path | None = None) -> list[WarmRow]:
    cases: list[tuple[str, str, Any, Sequence[tuple[str, str]]]] = [
        ("intent", "bitext", IntentModel(), data.bitext(data_dir, seed=0).test),
        ("intent", "banking77", IntentModel(), data.banking77(data_dir, seed=0).test),
    ]
    with contextlib.suppress(data.EvaluationError):  # not shipped: where ../shared/data has it
        cases.append(("sentiment", "tweets", SentimentModel(), data.tweets(data_dir).test))
    rows = []
    for model, dataset, cold, stream in cases:
        started = copy.deepcopy(warm.models[model])
        rows.append(
            WarmRow(
                model, dataset, len(stream), prequential(cold, stream), prequential(started, stream)
            )
        )
    return rows


def format_warm(rows: Sequence[WarmRow], snapshot: str) -> str:
    lines = [
        f"Warm start ({snapshot}) against cold, prequential accuracy on each holdout stream",
        "| model | dataset | events | cold first 100 | warm first 100 | cold first 1,000 "
        "| warm first 1,000 | cold all | warm all |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [f"{c:.3f} | {w:.3f}" for c, w in zip(r.cold, r.warm, strict=True)]
        lines.append(f"| {r.model} | {r.dataset} | {r.events:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
