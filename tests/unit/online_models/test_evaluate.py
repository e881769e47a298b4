"""``rapport evaluate`` on small slices of the real datasets: the code paths work and
the streamed models beat the trivial baselines (no result is hard-coded)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from sklearn.metrics import f1_score, roc_auc_score

from online_models.evaluate import DATASETS, data, evaluate
from online_models.evaluate.metrics import macro_f1, roc_auc
from online_models.evaluate.stream import STREAMED, Row
from streams.cli import main

SLICE = 1500


@pytest.fixture(scope="module", autouse=True)
def datasets() -> None:
    """Every dataset is required: a missing file fails these tests, it never skips them."""
    for name in DATASETS:
        data.locate(name, None)  # raises EvaluationError naming the file and the folders


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return evaluate(limit=SLICE, seed=0)


def _row(rows: list[Row], model: str, dataset: str, method: str) -> Row:
    return next(r for r in rows if (r.model, r.dataset, r.method) == (model, dataset, method))


@pytest.mark.parametrize(
    ("model", "dataset"),
    [("sentiment", "tweets"), ("intent", "bitext"), ("intent", "banking77")],
)
def test_text_models_beat_the_majority_class(rows: list[Row], model: str, dataset: str) -> None:
    streamed = _row(rows, model, dataset, STREAMED)
    majority = _row(rows, model, dataset, "majority class")
    batch = _row(rows, model, dataset, "batch TF-IDF 1-2g + LogReg")
    assert streamed.n_train + streamed.n_test == SLICE
    assert streamed.holdout["accuracy"] > majority.holdout["accuracy"] + 0.1
    assert streamed.holdout["macro_f1"] > majority.holdout["macro_f1"]
    assert streamed.prequential["accuracy"] > majority.holdout["accuracy"]
    assert batch.holdout["accuracy"] > majority.holdout["accuracy"]
    assert streamed.us_per_event is not None
    assert streamed.us_per_event > 0
    assert streamed.notes["abstained"] == 1  # only the very first message: nothing learnt yet


def test_sentiment_has_a_lexicon_baseline_and_a_char_gram_variant(rows: list[Row]) -> None:
    vader = _row(rows, "sentiment", "tweets", "VADER lexicon")
    assert 0.0 < vader.holdout["accuracy"] < 1.0
    richer = _row(rows, "sentiment", "tweets", f"{STREAMED}, +char 4-grams")
    assert (
        richer.holdout["accuracy"]
        > _row(rows, "sentiment", "tweets", "majority class").holdout["accuracy"]
    )


def test_churn_ranks_better_than_chance_and_is_audited(rows: list[Row]) -> None:
    streamed = _row(rows, "churn", "telco", STREAMED)
    batch = _row(rows, "churn", "telco", "batch one-hot + scaling + LogReg")
    assert streamed.prequential["roc_auc"] > 0.6
    assert streamed.holdout["roc_auc"] > 0.6
    assert batch.holdout["roc_auc"] > 0.6
    groups = streamed.notes["auc_by_group"]
    assert {"gender=Female", "gender=Male", "SeniorCitizen=0", "SeniorCitizen=1"} <= set(groups)


def test_label_free_models_do_their_task(rows: list[Row]) -> None:
    segment = _row(rows, "segment", "telco", STREAMED)
    anomaly = _row(rows, "anomaly", "telco+outliers", STREAMED)
    reco = _row(rows, "reco", "telco services", STREAMED)
    assert segment.holdout["churn_rate_spread"] > 0.0
    assert anomaly.prequential["roc_auc"] > 0.5
    assert anomaly.prequential["false_alert_rate"] < 0.05
    assert reco.prequential["hit_at_3"] > reco.prequential["popularity_hit_at_3"]


def test_warm_start_rows_are_labelled_apart() -> None:
    found = evaluate(datasets=["telco"], limit=400, warm_passes=2)
    methods = [r.method for r in found if r.model == "churn"]
    assert "River warm-started (2 passes)" in methods
    warm = next(r for r in found if r.method.startswith("River warm-started"))
    assert warm.prequential == {}
    assert warm.us_per_event is None


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    code = main(["evaluate", "--datasets", "bitext", "--limit", "300", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "intent" in printed
    assert "majority class" in printed
    report = json.loads(out.read_text())
    assert report["meta"]["datasets"] == ["bitext"]
    assert {row["model"] for row in report["rows"]} == {"intent"}


def test_missing_files_and_unknown_datasets_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(data.EvaluationError, match=r"Tweets\.csv not found.*--data-dir"):
        evaluate(tmp_path, datasets=["tweets"])
    with pytest.raises(data.EvaluationError, match="unknown dataset"):
        evaluate(tmp_path, datasets=["imdb"])


def test_exact_metrics_match_scikit_learn() -> None:
    rnd = random.Random(0)
    truth = [rnd.random() < 0.3 for _ in range(500)]
    scores = [round(rnd.random() + 0.3 * t, 2) for t in truth]  # ties included
    assert roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores))
    labels = [rnd.choice("abc") for _ in range(500)]
    guesses = [y if rnd.random() < 0.6 else rnd.choice("abcd") for y in labels]
    assert macro_f1(labels, guesses) == pytest.approx(f1_score(labels, guesses, average="macro"))
    assert math.isnan(roc_auc([True], [0.5]))


def test_partitions_replay_lays_text_models_out_as_the_workers_do(rows: list[Row]) -> None:
    """``rapport evaluate --partitions``: one partition is exactly the one-pass row; with
    more, each model learns only its share of the labels (and a sharded intent model,
    with 77 classes, falls behind the single one), unless the labels are shared, as
    the workers share them: then every partition's model stays within a point or two."""
    from online_models.evaluate.partitions import (  # noqa: PLC0415
        evaluate_partitions,
        format_partitions,
        partition_of,
    )

    found = evaluate_partitions([1, 4], limit=SLICE, seed=0)
    by = {(r.model, r.dataset, r.partitions): r for r in found if r.layout == "per partition"}
    shared = {(r.model, r.dataset): r for r in found if r.layout == "shared"}
    for model, dataset in (("sentiment", "tweets"), ("intent", "banking77")):
        one = _row(rows, model, dataset, STREAMED)
        single = by[(model, dataset, 1)]
        assert single.prequential == pytest.approx(one.prequential["accuracy"])
        assert single.holdout == pytest.approx(one.holdout["accuracy"])
        assert by[(model, dataset, 4)].labels_per_model == one.n_train / 4
        assert shared[(model, dataset)].labels_per_model == one.n_train
        assert abs(shared[(model, dataset)].holdout - single.holdout) <= 0.02, model
    assert by[("intent", "banking77", 4)].holdout < by[("intent", "banking77", 1)].holdout - 0.02
    shares = [partition_of(f"train-{i}", 4) for i in range(4000)]
    assert all(900 < shares.count(p) < 1100 for p in range(4))
    assert "vs 1 (holdout)" in format_partitions(found)
