"""Batch baselines computed in the same run as the stream, on the same splits.

- text: scikit-learn ``TfidfVectorizer(ngram_range=(1, 2))`` + ``LogisticRegression``
  (default ``C=1``), the protocol of the reference figures;
- churn: one-hot categories + mean-imputed, standard-scaled numbers +
  ``LogisticRegression``;
- sentiment lexicon: VADER's compound score, ``>= 0.05`` positive, ``<= -0.05``
  negative, else neutral (its authors' thresholds);
- majority class of the training part.

Every baseline sees the whole training part at once and as many passes as it needs;
the streaming models see each example once. scikit-learn and ``vaderSentiment`` come
with the ``eval`` extra.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from online_models.evaluate.data import EvaluationError, TabularSplit, TextSplit
from online_models.evaluate.metrics import accuracy, macro_f1, roc_auc

VADER_CUT = 0.05


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline's holdout figures and its fit + predict time per example."""

    method: str
    holdout: dict[str, float]
    us_per_example: float | None = None


def _label_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {"accuracy": accuracy(truth, predicted), "macro_f1": macro_f1(truth, predicted)}


def majority(split: TextSplit) -> Baseline:
    """Always the most frequent training label."""
    label = Counter(y for _, y in split.train).most_common(1)[0][0]
    truth = [y for _, y in split.test]
    return Baseline("majority class", _label_scores(truth, [label] * len(truth)))


def tfidf_logistic(split: TextSplit) -> Baseline:
    """TF-IDF word 1-2 grams + logistic regression, fitted on the whole training part."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415

    started = time.process_time()
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=2000))
    model.fit([x for x, _ in split.train], [y for _, y in split.train])
    predicted = [str(p) for p in model.predict([x for x, _ in split.test])]
    spent = _per_example(started, len(split.train) + len(split.test))
    scores = _label_scores([y for _, y in split.test], predicted)
    return Baseline("batch TF-IDF 1-2g + LogReg", scores, spent)


def vader(split: TextSplit) -> Baseline:
    """The VADER sentiment lexicon (no training)."""
    try:
        lexicon: Any = importlib.import_module("vaderSentiment.vaderSentiment")  # untyped
    except ImportError as exc:
        raise EvaluationError("VADER baseline needs vaderSentiment: pip install '.[eval]'") from exc
    analyzer = lexicon.SentimentIntensityAnalyzer()
    started = time.process_time()
    compounds = [float(analyzer.polarity_scores(x)["compound"]) for x, _ in split.test]
    predicted = [vader_label(c) for c in compounds]
    spent = _per_example(started, len(split.test))
    return Baseline("VADER lexicon", _label_scores([y for _, y in split.test], predicted), spent)


def vader_label(compound: float) -> str:
    if compound >= VADER_CUT:
        return "positive"
    if compound <= -VADER_CUT:
        return "negative"
    return "neutral"


def churn_logistic(split: TabularSplit, numeric: Sequence[str]) -> Baseline:
    """One-hot + standard scaling + logistic regression on the whole training part."""
    pd: Any = importlib.import_module("pandas")  # untyped (no stubs installed)
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.impute import SimpleImputer  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: PLC0415

    def frame(pairs: list[tuple[dict[str, str], bool]]) -> Any:
        table = pd.DataFrame([x for x, _ in pairs]).drop(columns=["customerID"], errors="ignore")
        for column in numeric:
            table[column] = pd.to_numeric(table[column], errors="coerce")
        return table

    started = time.process_time()
    train = frame(split.train)
    categorical = [c for c in train.columns if c not in numeric]
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), list(numeric)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    model = make_pipeline(columns, LogisticRegression(max_iter=2000))
    model.fit(train, [y for _, y in split.train])
    scores = model.predict_proba(frame(split.test))[:, 1].tolist()
    spent = _per_example(started, len(split.train) + len(split.test))
    auc = roc_auc([y for _, y in split.test], scores)
    return Baseline("batch one-hot + scaling + LogReg", {"roc_auc": auc}, spent)


def _per_example(started: float, n: int) -> float:
    return (time.process_time() - started) / max(n, 1) * 1e6
