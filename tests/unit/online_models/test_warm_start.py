"""Warm starts: a signed snapshot trained on the shipped data gives a new partition set
intent and sentiment from its first event, each partition its own copy, and the
tenant's own labels still win quickly."""

from __future__ import annotations

from collections import Counter

import pytest

from agents.scoring.state import ModelConfig, PartitionModels
from online_models.checkpoint import CheckpointError, SignatureError
from online_models.evaluate import data
from online_models.warm import WarmStart, dump, load, train

KEY = b"k" * 32


@pytest.fixture(scope="module")
def warm() -> WarmStart:
    return train()


def test_snapshot_is_signed_and_checked(warm: WarmStart) -> None:
    blob = dump(warm, KEY)
    restored = load(blob, KEY)
    assert restored.snapshot == warm.snapshot and restored.snapshot.startswith("warm-")
    assert restored.sources["bitext"] > 3_000 and restored.sources["vader_lexicon"] > 1_000
    with pytest.raises(SignatureError):
        load(blob, b"x" * 32)
    with pytest.raises(CheckpointError):
        load(blob[:-40] + bytes([blob[-40] ^ 1]) + blob[-39:], KEY)


def test_a_new_set_knows_intents_and_sentiment_from_the_first_event(warm: WarmStart) -> None:
    cold = PartitionModels(0, ModelConfig())
    started = PartitionModels(1, ModelConfig(), warm)
    assert started.snapshot == warm.snapshot and cold.snapshot is None
    holdout = data.bitext(seed=0).test  # never seen by the snapshot
    majority = Counter(y for _, y in holdout).most_common(1)[0][1] / len(holdout)
    right = sum(
        started.models["intent"].predict_one({"text": text}).value == intent
        for text, intent in holdout
    )
    assert right / len(holdout) >= 0.9 > majority + 0.5
    assert cold.models["intent"].predict_one({"text": holdout[0][0]}).value is None
    sentiment = started.models["sentiment"]
    assert sentiment.predict_one({"text": "terrible, awful, the worst service"}).value == (
        "negative"
    )
    assert sentiment.predict_one({"text": "wonderful, thank you so much!"}).value == "positive"
    assert cold.models["sentiment"].predict_one({"text": "wonderful"}).value is None


def test_partitions_learn_apart_and_tenant_labels_win(warm: WarmStart) -> None:
    one = PartitionModels(0, ModelConfig(), warm)
    two = PartitionModels(1, ModelConfig(), warm)
    text = {"text": "where is my parcel from the spring sale"}
    before = two.models["intent"].predict_one(text).value
    assert before != "parcel_status"
    learnt = 0
    while one.models["intent"].predict_one(text).value != "parcel_status":
        assert one.models["intent"].learn_one(text, "parcel_status")
        learnt += 1
        assert learnt <= 2, "the snapshot's prior outweighs the tenant's own label"
    assert two.models["intent"].predict_one(text).value == before  # its own copy
    assert warm.models["intent"].predict_one(text).value == before  # the snapshot unchanged
