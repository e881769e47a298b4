"""The pieces behind the models: River conventions, bounds, monitoring."""

from __future__ import annotations

import pickle
import random

import pytest
from river import checks

from online_models.anomaly import AnomalyModel
from online_models.churn import ChurnModel
from online_models.monitor import OTHER, Monitor
from online_models.reco import Recommender
from online_models.softmax import SparseSoftmax
from online_models.text_features import MAX_TEXT_CHARS, TextFeatures


@pytest.mark.parametrize("estimator", [SparseSoftmax(), TextFeatures()], ids=type)
def test_river_estimator_checks_pass(estimator: SparseSoftmax | TextFeatures) -> None:
    checks.check_estimator(estimator)


def test_softmax_memory_is_bounded_by_rule() -> None:
    model = SparseSoftmax(max_features=5, max_classes=2)
    for i in range(20):
        model.learn_one({f"f{i}": 1.0, "f0": 1.0}, "a" if i % 2 else "b")
    assert model.n_features == 5
    assert model.dropped_features == 20 - 5  # f5..f19, first seen once the table is full
    model.learn_one({"f1": 1.0}, "c")
    assert model.classes == ["b", "a"]
    assert model.refused_labels == 1
    assert set(model.predict_proba_one({"f1": 1.0})) == {"a", "b"}


def test_softmax_snapshot_is_trimmed_and_keeps_learning() -> None:
    model = SparseSoftmax()
    for i in range(1500):
        model.learn_one({f"w{i % 1100}": 1.0}, "a" if i % 2 else "b")
    restored = pickle.loads(pickle.dumps(model))
    assert restored.predict_proba_one({"w1": 1.0}) == model.predict_proba_one({"w1": 1.0})
    for clone in (model, restored):
        clone.learn_one({"brand-new": 1.0}, "c")
    assert restored.predict_proba_one({"brand-new": 1.0}) == model.predict_proba_one(
        {"brand-new": 1.0}
    )


def test_text_is_cut_to_the_stated_length() -> None:
    features = TextFeatures()
    head = ("refund please " * MAX_TEXT_CHARS)[:MAX_TEXT_CHARS]
    huge = head + " zebra" * 200_000
    cut = features.transform_one({"text": huge})
    assert cut == features.transform_one({"text": head})
    assert "zebra" not in cut


def test_monitor_detects_a_shift_in_the_error_rate() -> None:
    rnd = random.Random(0)
    monitor = Monitor("label")
    for i in range(4000):
        wrong = rnd.random() < (0.05 if i < 2000 else 0.5)
        monitor.update("a", "b" if wrong else "a", segment="chat" if i % 2 else "email")
    report = monitor.report()
    assert report["drifts"]
    assert 2000 < report["drifts"][0] < 2600
    assert set(report["by_segment"]) == {"chat", "email"}
    assert 0.6 < report["accuracy"] < 0.85


def test_monitor_probability_metrics_and_segment_bound() -> None:
    monitor = Monitor("probability", max_segments=2)
    for i in range(200):
        churned = i % 4 == 0
        monitor.update(churned, 0.9 if churned else 0.1, segment=f"plan-{i % 5}")
    report = monitor.report()
    assert report["roc_auc"] == pytest.approx(1.0)
    assert report["accuracy"] == 1.0
    assert set(report["by_segment"]) == {"plan-0", "plan-1", OTHER}


def test_churn_explanation_names_the_features_that_drive_the_score() -> None:
    model = ChurnModel()
    rnd = random.Random(0)
    for _ in range(400):
        monthly = rnd.random() < 0.5
        contract = "Month-to-month" if monthly else "Two year"
        churned = rnd.random() < (0.6 if monthly else 0.05)
        model.learn_one({"Contract": contract, "tenure": rnd.randint(0, 72)}, churned)
    risky = model.predict_one({"Contract": "Month-to-month", "tenure": 30})
    top = risky.explanation["top_features"]
    assert next(iter(top)) == "Contract_Month-to-month"
    assert top["Contract_Month-to-month"] > 0


def test_anomaly_alerts_on_about_the_stated_share() -> None:
    rnd = random.Random(1)
    model = AnomalyModel(window_size=100, seed=1)
    alerts = 0
    for i in range(3000):
        x = {"orders": rnd.gauss(5, 1), "spend": rnd.gauss(100, 10)}
        alerts += bool(model.predict_one(x).explanation.get("alert")) and i > 600
        model.learn_one(x)
    assert 0.002 < alerts / 2400 < 0.04
    assert model.predict_one({"orders": 60, "spend": 3000}).explanation["alert"] is True


def test_recommender_bounds_and_erasure() -> None:
    model = Recommender(history=3, max_neighbours=2, max_customers=2)
    for n in range(3):
        for item in ["a", "b", "c", "d", "e"]:
            model.learn_one({"customer_id": f"c{n}", "product_id": item})
    assert list(model.histories) == ["c1", "c2"]  # c0, least recently active, evicted
    assert all(len(h) <= 3 for h in model.histories.values())
    assert all(len(n) <= 4 for n in model.together.values())  # pruned past 2 x 2
    assert model.forget("c2") == 1
    assert model.forget("c2") == 0
    assert "c2" not in model.histories


def test_recommender_keeps_at_most_max_items_the_most_popular() -> None:
    model = Recommender(max_items=50)
    for i in range(500):  # 500 products seen once each, then "hit" often
        model.learn_one({"customer_id": f"c{i % 7}", "product_id": f"p{i}"})
        model.learn_one({"customer_id": f"c{i % 7}", "product_id": "hit", "kind": "order"})
    assert len(model.popularity) <= 50 and len(model.together) <= 50
    assert "hit" in model.popularity, "the most popular item is never the one forgotten"
    assert model.predict_one({"customer_id": "new"}).value == "hit"
    # a model checkpointed before the bound existed loads with the class default
    old = Recommender()
    del old.__dict__["max_items"]
    assert old.max_items == Recommender.max_items


def test_text_model_reuses_a_prediction_without_changing_what_it_learns() -> None:
    from online_models.text_models import IntentModel  # noqa: PLC0415

    texts = ["card not arrived", "refund please", "card lost", "where is my refund", "new card"]
    plain, tested = IntentModel(), IntentModel()
    for i in range(40):
        text, label = texts[i % 5], "card" if "card" in texts[i % 5] else "refund"
        tested.predict_one({"text": text})
        assert tested.learn_one({"text": text}, label) == plain.learn_one({"text": text}, label)
    probe = {"text": "my card and my refund"}
    assert tested.predict_one(probe) == plain.predict_one(probe)
    restored = pickle.loads(pickle.dumps(tested))
    assert "_last" not in restored.__dict__
    assert restored.predict_one(probe) == tested.predict_one(probe)


def test_churn_prepares_once_for_predict_then_learn_and_learns_the_same() -> None:
    rows = [
        ({"tenure": 1 + i % 7, "Contract": ("Month-to-month", "Two year")[i % 2]}, i % 3 == 0)
        for i in range(60)
    ]
    plain, tested = ChurnModel(), ChurnModel()
    for x, y in rows:
        tested.predict_one(x)
        tested.proba(x)
        assert tested.learn_one(x, y) == plain.learn_one(x, y)
    probe = {"tenure": 3, "Contract": "Month-to-month"}
    assert tested.predict_one(probe) == plain.predict_one(probe)
    changed = dict(probe, tenure=40)  # another dict: prepared afresh
    assert tested.proba(changed) == plain.proba(changed) != plain.proba(probe)
    restored = pickle.loads(pickle.dumps(tested))
    assert "_prepared" not in restored.__dict__
    assert restored.predict_one(probe) == tested.predict_one(probe)


def test_monitor_keeps_the_last_hundred_drifts() -> None:
    from online_models.monitor import MAX_DRIFTS  # noqa: PLC0415

    class Always:
        drift_detected = True

        def update(self, x: float) -> None:
            del x

    monitor = Monitor("label")
    monitor.detector = Always()
    for _ in range(3 * MAX_DRIFTS):
        assert monitor.update("a", "b") is True
    assert monitor.report()["drifts"] == list(range(2 * MAX_DRIFTS + 1, 3 * MAX_DRIFTS + 1))


def test_remembered_texts_are_cut_to_a_bound() -> None:
    from agents.scoring.state import MAX_TEXT_CHARS, ModelConfig, PartitionModels  # noqa: PLC0415

    models = PartitionModels(0, ModelConfig())
    models.remember_text("c1", "e1", "chat", "x" * (10 * MAX_TEXT_CHARS))
    found = models.text_of("c1", "e1")
    assert found is not None and found[1] == "x" * MAX_TEXT_CHARS
