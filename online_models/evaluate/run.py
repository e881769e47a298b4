"""``rapport evaluate``: replay the real datasets through the models as a stream.

Each supervised model sees its training part once, in stream order, test-then-train:
``predict_one`` (with its explanation, as an agent calls it) then ``learn_one``. That
gives the **prequential** figures. The model is then frozen and scored on the
**holdout**. Batch baselines (:mod:`online_models.evaluate.batch`) are fitted on the
same training part in the same run. ``us/event`` is the median time of
``predict_one`` plus the median time of ``learn_one`` over the training stream (see
:class:`~online_models.evaluate.stream.Row`); batch rows give fit + predict CPU time
per example.

``warm_passes > 1`` adds rows for a model that made that many passes over the training
stream before the holdout, labelled "warm-started": a replay warm start, not the
one-pass figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Final

from online_models.churn import TELCO_NUMERIC, ChurnModel
from online_models.evaluate import batch, data, unsupervised
from online_models.evaluate.metrics import accuracy, macro_f1, roc_auc
from online_models.evaluate.stream import STREAMED, Row, Streamed, prequential_pass
from online_models.monitor import Monitor, MonitorKind
from online_models.text_models import IntentModel, SentimentModel, TextClassifierModel

DATASETS: Final = ("tweets", "bitext", "banking77", "telco")
CHAR_VARIANT: Final = (4, 4)
"""Sentiment is also streamed with character 4-grams: the accuracy / cost trade-off."""
AUDIT_COLUMNS: Final = ("gender", "SeniorCitizen")
"""Telco columns whose groups get their own holdout AUC (bias audit)."""


def _labels(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {"accuracy": accuracy(truth, predicted), "macro_f1": macro_f1(truth, predicted)}


def _prequential(truth: Sequence[str], streamed: Streamed) -> tuple[dict[str, float], int]:
    """Label scores over the examples the model did not abstain on, and the abstentions."""
    pairs = [
        (y, str(p.value)) for y, p in zip(truth, streamed.predictions, strict=True)
        if p.value is not None
    ]  # fmt: skip
    scored = _labels([y for y, _ in pairs], [p for _, p in pairs])
    return scored, len(truth) - len(pairs)


def _drifts(kind: MonitorKind, truth: Sequence[Any], predicted: Sequence[Any]) -> int:
    monitor = Monitor(kind)
    for y, p in zip(truth, predicted, strict=True):
        monitor.update(y, p)
    return len(monitor.drifts)


def _warm_method(passes: int) -> str:
    return f"River warm-started ({passes} passes)"


def stream_text(
    model: TextClassifierModel, split: data.TextSplit, *, warm_passes: int = 0
) -> list[Row]:
    """The one-pass prequential + holdout row (and a warm-started row if asked)."""
    examples = [({"text": text}, label) for text, label in split.train]
    streamed = prequential_pass(model, examples)
    truth = [y for _, y in split.train]
    prequential, abstained = _prequential(truth, streamed)
    answered = [str(p.value) for p in streamed.predictions if p.value is not None]
    kept = [y for y, p in zip(truth, streamed.predictions, strict=True) if p.value is not None]

    def holdout() -> dict[str, float]:
        guesses = [str(model.predict_one({"text": x}).value) for x, _ in split.test]
        return _labels([y for _, y in split.test], guesses)

    notes = streamed.notes | {
        "abstained": abstained,
        "drifts": _drifts("label", kept, answered),
        "split": split.protocol,
    }
    total = streamed.predict_us + streamed.learn_us
    sizes = (len(split.train), len(split.test))
    rows = [Row(model.name, split.dataset, STREAMED, prequential, holdout(), total, *sizes, notes)]
    if warm_passes > 1:
        for _ in range(warm_passes - 1):
            for x, label in examples:
                model.learn_one(x, label)
        method = _warm_method(warm_passes)
        rows.append(Row(model.name, split.dataset, method, {}, holdout(), None, *sizes))
    return rows


def stream_churn(split: data.TabularSplit, *, warm_passes: int = 0) -> list[Row]:
    """Churn: prequential and holdout ROC AUC, with a holdout AUC per audit group."""
    model = ChurnModel()
    streamed = prequential_pass(model, split.train)
    scores = [float(p.value or 0.0) for p in streamed.predictions]
    truth = [y for _, y in split.train]

    def holdout() -> tuple[dict[str, float], dict[str, Any]]:
        held = [model.proba(x) for x, _ in split.test]
        labels = [y for _, y in split.test]
        audit = {
            f"{column}={group}": round(roc_auc(*zip(*members, strict=True)), 4)
            for column in AUDIT_COLUMNS
            for group, members in _groups(split.test, labels, held, column).items()
        }
        return {"roc_auc": roc_auc(labels, held)}, audit

    held_out, audit = holdout()
    notes = streamed.notes | {
        "drifts": _drifts("probability", truth, scores),
        "auc_by_group": audit,
        "split": split.protocol,
    }
    total = streamed.predict_us + streamed.learn_us
    sizes = (len(split.train), len(split.test))
    rows = [Row("churn", "telco", STREAMED, {"roc_auc": roc_auc(truth, scores)}, held_out,
                total, *sizes, notes)]  # fmt: skip
    if warm_passes > 1:
        for _ in range(warm_passes - 1):
            for x, churned in split.train:
                model.learn_one(x, churned)
        rows.append(
            Row("churn", "telco", _warm_method(warm_passes), {}, holdout()[0], None, *sizes)
        )
    return rows


def _groups(
    test: Sequence[tuple[dict[str, str], bool]],
    labels: Sequence[bool],
    scores: Sequence[float],
    column: str,
) -> dict[str, list[tuple[bool, float]]]:
    groups: dict[str, list[tuple[bool, float]]] = {}
    for (x, _), y, s in zip(test, labels, scores, strict=True):
        groups.setdefault(str(x.get(column, "?")), []).append((y, s))
    return groups


def _baseline_row(model: str, split: data.Split[Any, Any], found: batch.Baseline) -> Row:
    return Row(model, split.dataset, found.method, {}, found.holdout, found.us_per_example,
               len(split.train), len(split.test))  # fmt: skip


def text_rows(
    name: str, split: data.TextSplit, model: TextClassifierModel, warm_passes: int
) -> list[Row]:
    """Stream rows then baseline rows for one text dataset."""
    rows = stream_text(model, split, warm_passes=warm_passes)
    if name == "sentiment":
        richer = stream_text(SentimentModel(char_ngrams=CHAR_VARIANT), split)[0]
        rows.append(replace(richer, method=f"{STREAMED}, +char 4-grams"))
    rows.append(_baseline_row(name, split, batch.tfidf_logistic(split)))
    if name == "sentiment":
        rows.append(_baseline_row(name, split, batch.vader(split)))
    rows.append(_baseline_row(name, split, batch.majority(split)))
    return rows


def evaluate(
    data_dir: Path | None = None,
    *,
    datasets: Sequence[str] = DATASETS,
    limit: int | None = None,
    seed: int = 0,
    warm_passes: int = 0,
) -> list[Row]:
    """Every requested dataset through its model(s) and baselines."""
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise data.EvaluationError(f"unknown dataset(s) {unknown}; choose from {DATASETS}")
    rows: list[Row] = []
    texts: dict[str, tuple[str, Callable[[], data.TextSplit], Callable[[], Any]]] = {
        "tweets": ("sentiment", lambda: data.tweets(data_dir, limit=limit), SentimentModel),
        "bitext": ("intent", lambda: data.bitext(data_dir, limit=limit, seed=seed), IntentModel),
        "banking77": (
            "intent", lambda: data.banking77(data_dir, limit=limit, seed=seed), IntentModel
        ),
    }  # fmt: skip
    for dataset in datasets:
        if dataset in texts:
            name, load, make = texts[dataset]
            rows += text_rows(name, load(), make(), warm_passes)
    if "telco" in datasets:
        split = data.telco(data_dir, limit=limit, seed=seed)
        rows += stream_churn(split, warm_passes=warm_passes)
        rows.append(_baseline_row("churn", split, batch.churn_logistic(split, TELCO_NUMERIC)))
        rows += unsupervised.rows(split, seed=seed)
    return rows


def as_json(rows: Sequence[Row], meta: dict[str, Any]) -> dict[str, Any]:
    """The rows and the run's settings as one JSON-ready dict."""
    return {"meta": meta, "rows": [asdict(row) for row in rows]}
