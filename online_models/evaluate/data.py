"""The evaluation datasets, read from the CSV files, with their train / holdout splits.

- Tweets (sentiment): time order (``tweet_created``, offset kept, then row); the last
  20 % in time is the holdout, so the model is tested on days it has not seen.
- Bitext and BANKING77 (intent): seeded 80/20 split stratified by intent
  (scikit-learn's ``train_test_split``, ``random_state=seed``: the protocol of the
  reference figures in the data README); the training stream is in the split's order.
- Telco (churn): the same seeded stratified 80/20 split by ``Churn``.

``limit`` keeps ``limit`` rows before splitting, for quick runs: the first ones in
time for tweets, a seeded sample for the others (Bitext and BANKING77 files are
grouped by intent, so their first rows would hold a handful of intents). Files are
looked up in ``data_dir`` when given, else in the repository's ``data/`` and then in
``../shared/data/`` (where ``Tweets.csv`` lives: its licence forbids vendoring it).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Generic, TypeVar

from online_models.base import ModelError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SEARCH_DIRS: Final = (REPO_ROOT / "data", REPO_ROOT.parent / "shared" / "data")
FILES: Final = {
    "tweets": "Tweets.csv",
    "bitext": "Bitext_Sample_Customer_Support_Training_Dataset.csv",
    "banking77": "banking77_train.csv",
    "telco": "Telco-Customer-Churn.csv",
}
HOLDOUT: Final = 0.2
T = TypeVar("T")
X = TypeVar("X")
Y = TypeVar("Y")


class EvaluationError(ModelError):
    """An evaluation cannot run: a data file is missing or malformed."""


@dataclass(frozen=True, slots=True)
class Split(Generic[X, Y]):
    """A dataset's training stream and holdout, with how they were made."""

    dataset: str
    train: list[tuple[X, Y]]
    test: list[tuple[X, Y]]
    protocol: str


TextSplit = Split[str, str]
TabularSplit = Split[dict[str, str], bool]


def locate(dataset: str, data_dir: Path | None) -> Path:
    """The CSV file of ``dataset`` (see the module docstring for the search order)."""
    name = FILES[dataset]
    dirs = (data_dir,) if data_dir is not None else SEARCH_DIRS
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    where = ", ".join(str(d) for d in dirs)
    raise EvaluationError(f"{name} not found in {where} (pass --data-dir)")


def read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """All rows of ``path`` (quoted line breaks handled), checking the header."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise EvaluationError(f"{path}: missing column(s) {missing}")
        return list(reader)


def _sample(rows: list[T], limit: int | None, seed: int) -> list[T]:
    if limit is None or limit >= len(rows):
        return rows
    return random.Random(seed).sample(rows, limit)


def stratified(pairs: list[tuple[T, str]], seed: int) -> tuple[list[tuple[T, str]], ...]:
    """A seeded 80/20 split stratified by label (plain split if a label is too rare)."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - eval extra

    labels = [y for _, y in pairs]
    counts = Counter(labels)
    can_stratify = min(counts.values()) >= 2 and len(counts) <= HOLDOUT * len(pairs)
    train, test = train_test_split(
        pairs, test_size=HOLDOUT, random_state=seed, stratify=labels if can_stratify else None
    )
    return list(train), list(test)


def tweets(data_dir: Path | None = None, *, limit: int | None = None) -> TextSplit:
    """Airline tweets by time; holdout = the last 20 % in time."""
    rows = read_csv(locate("tweets", data_dir), ("text", "airline_sentiment", "tweet_created"))
    timed = sorted(
        (datetime.strptime(r["tweet_created"], "%Y-%m-%d %H:%M:%S %z"), i)
        for i, r in enumerate(rows)
    )
    pairs = [(rows[i]["text"], rows[i]["airline_sentiment"]) for _, i in timed][:limit]
    cut = len(pairs) - round(len(pairs) * HOLDOUT)
    return Split("tweets", pairs[:cut], pairs[cut:], "time order, last 20% held out")


def _utterances(
    dataset: str, columns: tuple[str, str], data_dir: Path | None, *, limit: int | None, seed: int
) -> TextSplit:
    text, label = columns
    rows = _sample(read_csv(locate(dataset, data_dir), (text, label)), limit, seed)
    train, test = stratified([(r[text], r[label]) for r in rows], seed)
    return Split(dataset, train, test, f"stratified 80/20, seed {seed}")


def bitext(data_dir: Path | None = None, *, limit: int | None = None, seed: int = 0) -> TextSplit:
    """Bitext utterances and their 27 intents."""
    return _utterances("bitext", ("instruction", "intent"), data_dir, limit=limit, seed=seed)


def banking77(
    data_dir: Path | None = None, *, limit: int | None = None, seed: int = 0
) -> TextSplit:
    """BANKING77 queries and their 77 intents."""
    return _utterances("banking77", ("text", "category"), data_dir, limit=limit, seed=seed)


def telco(data_dir: Path | None = None, *, limit: int | None = None, seed: int = 0) -> TabularSplit:
    """Telco customers (all columns but ``Churn``) and whether they churned."""
    rows = _sample(
        read_csv(locate("telco", data_dir), ("customerID", "Churn", "tenure")), limit, seed
    )
    labelled = [({k: v for k, v in r.items() if k != "Churn"}, r["Churn"]) for r in rows]
    train, test = stratified(labelled, seed)
    return Split("telco", _churned(train), _churned(test), f"stratified 80/20, seed {seed}")


def _churned(pairs: list[tuple[dict[str, str], str]]) -> list[tuple[dict[str, str], bool]]:
    return [(x, y == "Yes") for x, y in pairs]
