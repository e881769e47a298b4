"""``rapport evaluate --partitions 1,2,4``: the text models as the workers lay them out.

A worker keeps one model set per partition of ``events`` (a customer's events are all in
one partition, so behaviour models see whole histories). A text model of partition p
therefore learns only the labels of the customers that hash to p: with N partitions each
sees about 1/N of the labels. This replays a labelled dataset the same way: each example
goes to the partition of its (stable, hashed) customer, is predicted by that partition's
model, then learnt by it (prequential); the holdout is scored by the model of each test
example's partition. ``N = 1`` is the plain one-pass row of ``rapport evaluate``.

The ``shared`` layout is what the workers do (``schemas.examples``): the partition that
learnt an example sends a copy to every other partition, which learns it when the copy
arrives, here ``lag`` examples later (the copy's trip through Kafka).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from online_models.evaluate import data
from online_models.evaluate.metrics import accuracy
from online_models.text_models import IntentModel, SentimentModel, TextClassifierModel


@dataclass(frozen=True, slots=True)
class PartitionRow:
    model: str
    dataset: str
    partitions: int
    layout: str
    prequential: float
    holdout: float
    labels_per_model: float
    """Mean training examples each partition's model learnt."""


def partition_of(key: str, partitions: int) -> int:
    """A stable hash of the example's customer key, modulo the partition count."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % partitions


LAYOUTS = ("per partition", "shared")


def replay(
    name: str,
    split: data.TextSplit,
    make: Callable[[], TextClassifierModel],
    partitions: int,
    *,
    layout: str = "per partition",
    lag: int = 50,
) -> PartitionRow:
    """One dataset through ``partitions`` models (module docstring)."""
    models = [make() for _ in range(partitions)]
    truth, guesses = [], []
    copies: deque[tuple[int, int, str, str]] = deque()  # (due, origin, text, label)
    for i, (text, label) in enumerate(split.train):
        while copies and copies[0][0] <= i:
            _, origin, shared, value = copies.popleft()
            for p, other in enumerate(models):
                if p != origin:
                    other.learn_one({"text": shared}, value)
        at = partition_of(f"train-{i}", partitions)
        model = models[at]
        predicted = model.predict_one({"text": text}).value
        if predicted is not None:  # a model that learnt nothing yet abstains
            truth.append(label)
            guesses.append(str(predicted))
        model.learn_one({"text": text}, label)
        if layout == "shared" and partitions > 1:
            copies.append((i + lag, at, text, label))
    for _, origin, shared, value in copies:
        for p, other in enumerate(models):
            if p != origin:
                other.learn_one({"text": shared}, value)
    held = [
        str(models[partition_of(f"test-{i}", partitions)].predict_one({"text": text}).value)
        for i, (text, _) in enumerate(split.test)
    ]
    return PartitionRow(
        name,
        split.dataset,
        partitions,
        layout,
        accuracy(truth, guesses),
        accuracy([y for _, y in split.test], held),
        len(split.train) if layout == "shared" else len(split.train) / partitions,
    )


def evaluate_partitions(
    counts: Sequence[int],
    data_dir: Path | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
) -> list[PartitionRow]:
    """Sentiment on Tweets and intent on BANKING77, for each partition count and layout."""
    texts: list[tuple[str, data.TextSplit, Callable[[], TextClassifierModel]]] = [
        ("sentiment", data.tweets(data_dir, limit=limit), SentimentModel),
        ("intent", data.banking77(data_dir, limit=limit, seed=seed), IntentModel),
    ]
    return [
        replay(name, split, make, n, layout=layout)
        for name, split, make in texts
        for layout in LAYOUTS
        for n in counts
        if n > 1 or layout == LAYOUTS[0]
    ]


def format_partitions(rows: Sequence[PartitionRow]) -> str:
    """The table, with each row's accuracy beside the one-partition figure."""
    base = {(r.model, r.dataset): r for r in rows if r.partitions == 1}
    lines = [
        f"{'model':<10} {'dataset':<10} {'partitions':>10} {'layout':<14} {'labels/model':>12} "
        f"{'prequential':>11} {'holdout':>8} {'vs 1 (holdout)':>15}"
    ]
    for r in rows:
        one = base.get((r.model, r.dataset))
        gap = "" if one is None else f"{(r.holdout - one.holdout) * 100:+.1f} pts"
        lines.append(
            f"{r.model:<10} {r.dataset:<10} {r.partitions:>10} {r.layout:<14} "
            f"{r.labels_per_model:>12,.0f} {r.prequential:>11.3f} {r.holdout:>8.3f} {gap:>15}"
        )
    return "\n".join(lines)


def partitions_json(rows: Sequence[PartitionRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
