"""Every online model honours the same contract (River-style ``check_*`` for ours).

Parametrized over ``online_models.registry.MODELS``: a new family is covered as soon
as it is registered, and must then provide its examples in ``EXAMPLES``.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from online_models.base import OnlineModel, Prediction, SnapshotError
from online_models.checkpoint import (
    Checkpointer,
    CheckpointError,
    SignatureError,
    StaleCheckpointError,
)
from online_models.registry import MODELS
from schemas.published import Insight

KEY = b"contract-test-key-0123456789abcdef"
Example = tuple[dict[str, Any], Any]


def _text(rnd: random.Random) -> Iterator[Example]:
    good = ["great crew thanks", "love the new seats", "thank you so much, awesome"]
    bad = ["delayed again, lost bag", "worst service ever", "cancelled flight, no help"]
    flat = ["what time is boarding", "is there wifi on board", "flight number please"]
    for i in range(300):
        kind = i % 3
        text = rnd.choice((bad, flat, good)[kind])
        yield {"text": f"{text} {rnd.randint(0, 9)}"}, ("negative", "neutral", "positive")[kind]


def _intent(rnd: random.Random) -> Iterator[Example]:
    for x, y in _text(rnd):
        yield x, {"negative": "complaint", "neutral": "question", "positive": "praise"}[y]


def _customers(rnd: random.Random) -> Iterator[Example]:
    for _ in range(300):
        churned = rnd.random() < 0.3
        tenure = rnd.randint(0, 12) if churned else rnd.randint(12, 72)
        x = {
            "customerID": f"id-{rnd.randint(0, 10**6)}",
            "tenure": str(tenure),
            "MonthlyCharges": f"{rnd.uniform(20, 110):.2f}",
            "TotalCharges": f"{tenure * rnd.uniform(20, 110):.2f}",
            "Contract": "Month-to-month" if churned else rnd.choice(["One year", "Two year"]),
            "SeniorCitizen": rnd.choice([0, 1]),
        }
        yield x, churned


def _behaviour(rnd: random.Random) -> Iterator[Example]:
    for i in range(300):
        heavy = i % 2 == 0
        yield (
            {
                "orders_30d": rnd.gauss(20 if heavy else 2, 1),
                "page_views_30d": rnd.gauss(200 if heavy else 15, 5),
                "rating_mean_30d": rnd.gauss(4.5, 0.2),
            },
            None,
        )


def _baskets(rnd: random.Random) -> Iterator[Example]:
    bundles = [["tent", "stove", "lamp"], ["phone", "case", "charger"]]
    for n in range(100):
        for item in rnd.choice(bundles):
            kind = rnd.choice(["order", "cart", "page_view"])
            yield {"customer_id": f"c{n}", "product_id": item, "kind": kind}, None


EXAMPLES: dict[str, Callable[[random.Random], Iterator[Example]]] = {
    "sentiment": _text,
    "intent": _intent,
    "churn": _customers,
    "segment": _behaviour,
    "anomaly": _behaviour,
    "reco": _baskets,
}
PROBES: dict[str, list[dict[str, Any]]] = {
    "sentiment": [{"text": "thanks, great crew"}, {"text": "lost my bag again"}],
    "intent": [{"text": "is there wifi"}, {"text": "worst service"}],
    "churn": [{"tenure": "2", "Contract": "Month-to-month"}, {"tenure": "60"}],
    "segment": [{"orders_30d": 20, "page_views_30d": 190}, {"orders_30d": 1}],
    "anomaly": [{"orders_30d": 2, "page_views_30d": 15}, {"orders_30d": 500}],
    "reco": [{"customer_id": "c1"}, {"customer_id": "someone-new"}],
}
BAD_INPUTS: list[dict[str, Any]] = [
    {},
    {"text": ""},
    {"text": "x" * 1_000_000},
    {"text": None},
    {"text": 42, "tenure": "abc", "MonthlyCharges": None, "orders_30d": "n/a"},
    {"orders_30d": math.nan, "page_views_30d": math.inf, "TotalCharges": -1e308},
    {"customer_id": 5, "product_id": ["a"], "kind": {"x": 1}},
    {"nested": {"a": 1}, "list": [1, 2], "bytes": b"\xff"},
]
UNSEEN_LABELS = ["angry", "", None, 3.5, "x" * 500, {"label": 1}]


def trained(name: str, n: int | None = None) -> OnlineModel:
    model = MODELS[name]()
    for x, y in list(EXAMPLES[name](random.Random(0)))[:n]:
        model.learn_one(x, y)
    return model


def as_insight(name: str, model: OnlineModel, prediction: Prediction) -> Insight:
    now = datetime.now(UTC)
    assert prediction.value is not None
    return Insight(
        insight_id=f"e1:{name}",
        customer_id="c1",
        event_id="e1",
        model=model.name,
        model_version=model.version,
        prediction=prediction.value,
        confidence=prediction.confidence,
        explanation=dict(prediction.explanation),
        occurred_at=now,
        produced_at=now,
    )


@pytest.fixture(scope="module", params=sorted(MODELS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_registered_model_has_examples() -> None:
    assert set(EXAMPLES) == set(MODELS) == set(PROBES)


def test_learns_then_predicts_a_publishable_insight(name: str) -> None:
    model = trained(name)
    assert model.name == name
    assert model.version > 0
    for probe in PROBES[name]:
        prediction = model.predict_one(probe)
        assert prediction.value is not None, prediction.explanation
        assert prediction.confidence is None or 0.0 <= prediction.confidence <= 1.0
        json.dumps(dict(prediction.explanation))
        assert as_insight(name, model, prediction).model_version == model.version


def test_version_counts_accepted_updates_only(name: str) -> None:
    model = MODELS[name]()
    x, y = next(EXAMPLES[name](random.Random(1)))
    assert model.learn_one(x, y) is True
    assert (model.version, model.refused) == (1, 0)
    assert model.learn_one({}, y) is False
    assert (model.version, model.refused) == (1, 1)


def test_untrained_model_abstains_or_predicts(name: str) -> None:
    prediction = MODELS[name]().predict_one(PROBES[name][0])
    assert isinstance(prediction, Prediction)
    if prediction.value is None:
        assert prediction.explanation["reason"]


def test_bytes_round_trip_predicts_identically(name: str) -> None:
    model = trained(name)
    restored = type(model).from_bytes(model.to_bytes())
    assert restored is not model
    assert restored.version == model.version
    for probe in PROBES[name] + BAD_INPUTS:
        assert restored.predict_one(probe) == model.predict_one(probe)
    x, y = next(EXAMPLES[name](random.Random(7)))
    model.learn_one(x, y)
    restored.learn_one(x, y)
    assert restored.predict_one(PROBES[name][0]) == model.predict_one(PROBES[name][0])


def test_from_bytes_refuses_another_model_class(name: str) -> None:
    other = next(n for n in sorted(MODELS) if n != name)
    with pytest.raises(SnapshotError):
        type(MODELS[name]()).from_bytes(MODELS[other]().to_bytes())


def test_signed_checkpoint_restores_the_same_model(name: str) -> None:
    model = trained(name)
    signer = Checkpointer(KEY)
    blob = signer.dump(model)
    restored, info = Checkpointer(KEY).load(blob, type(model))
    assert (info.model, info.model_version, info.sequence) == (name, model.version, 1)
    for probe in PROBES[name]:
        assert restored.predict_one(probe) == model.predict_one(probe)
    assert signer.dump(model) != blob  # the sequence moved on
    assert signer.sequence == 2


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda b: b[:-50] + bytes([b[-50] ^ 1]) + b[-49:], id="payload-bit"),
        pytest.param(lambda b: b[:12] + b"X" + b[13:], id="header-byte"),
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), id="mac-byte"),
        pytest.param(lambda b: b + b"\x00", id="appended"),
    ],
)
def test_tampered_checkpoint_is_refused(name: str, corrupt: Callable[[bytes], bytes]) -> None:
    model = trained(name)
    blob = Checkpointer(KEY).dump(model)
    with pytest.raises(SignatureError):
        Checkpointer(KEY).load(corrupt(blob), type(model))


def test_checkpoint_refusals_are_specific(name: str) -> None:
    model = trained(name)
    blob = Checkpointer(KEY, sequence=4).dump(model)
    with pytest.raises(SignatureError):
        Checkpointer(b"another-key-0123456789").load(blob, type(model))
    with pytest.raises(CheckpointError, match="not a Rapport checkpoint"):
        Checkpointer(KEY).load(blob[:20], type(model))
    with pytest.raises(StaleCheckpointError):
        Checkpointer(KEY).load(blob, type(model), min_sequence=6)
    other = next(m for n, m in sorted(MODELS.items()) if n != name)
    with pytest.raises(CheckpointError, match="expected"):
        Checkpointer(KEY).load(blob, type(other()))
    with pytest.raises(CheckpointError, match="at least"):
        Checkpointer(b"short")


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda b: ",".join(sorted(b)) or "empty")
def test_bad_input_never_raises(name: str, bad: dict[str, Any]) -> None:
    model = trained(name)
    started = time.perf_counter()
    prediction = model.predict_one(bad)
    _, y = next(EXAMPLES[name](random.Random(2)))
    used = model.learn_one(bad, y)
    assert time.perf_counter() - started < 0.5  # a 1 MB text is cut, not tokenised
    assert isinstance(prediction, Prediction)
    assert isinstance(used, bool)
    after = model.predict_one(PROBES[name][0]).value
    assert after is not None
    assert not isinstance(after, float) or math.isfinite(after)


@pytest.mark.parametrize("label", UNSEEN_LABELS, ids=repr)
def test_unknown_or_malformed_label_is_handled_by_rule(name: str, label: Any) -> None:
    model = trained(name)
    x, _ = next(EXAMPLES[name](random.Random(3)))
    before = model.version
    used = model.learn_one(x, label)
    assert model.version == before + used
    assert model.predict_one(PROBES[name][0]).value is not None
