"""Shared labels: a labelled text example learnt on one partition reaches the text models
of every other partition, once, in that partition's log order (``schemas.examples``)."""

from __future__ import annotations

import pickle

from schemas.examples import Example
from tests.support.scoring import Pipeline, label, message

TEXTS = {
    "card_arrival": "my new card has not arrived yet",
    "lost_card": "i lost my card yesterday",
}


def taught(pipeline: Pipeline, partition: int, n: int) -> list[Example]:
    """``n`` labelled messages on ``partition``; the examples the scorer hands out."""
    for i in range(n):
        intent = list(TEXTS)[i % 2]
        pipeline.feed(message(i, TEXTS[intent], customer=f"c{i}"), partition)
        pipeline.feed(label(i, intent, customer=f"c{i}"), partition)
    return pipeline.scorer.take_examples()


def test_an_example_learnt_on_one_partition_teaches_the_others() -> None:
    pipeline = Pipeline()
    examples = taught(pipeline, 0, 6)
    assert [(e.example_id, e.model, e.origin) for e in examples[:2]] == [
        ("l0:intent", "intent", 0),
        ("l1:intent", "intent", 0),
    ]
    assert len(examples) == 6 and pipeline.scorer.take_examples() == []
    probe = message(99, TEXTS["lost_card"], customer="z")
    before = pipeline.feed(probe, 1)
    assert {i.model: i.prediction for i in before}["intent"] == "unknown"  # nothing learnt
    for example in examples:
        pipeline.feed(example, 1)
    models = pipeline.scorer.sets[1]
    assert models.models["intent"].version == 6
    again = message(100, TEXTS["lost_card"], customer="z2")
    after = {i.model: i.prediction for i in pipeline.feed(again, 1)}
    assert after["intent"] == "lost_card"
    # the same predictions as the partition that learnt them itself
    origin = {i.model: i.prediction for i in pipeline.feed(message(101, TEXTS["lost_card"]), 0)}
    assert origin["intent"] == after["intent"]


def test_a_resent_example_or_its_own_copy_is_not_learnt_twice() -> None:
    pipeline = Pipeline()
    examples = taught(pipeline, 0, 2)
    assert pipeline.scorer.learn_example(examples[0], 1, 10)
    assert not pipeline.scorer.learn_example(examples[0], 1, 11)  # a resend after a crash
    assert not pipeline.scorer.learn_example(examples[1], 1, 11)  # re-read: offset learnt
    assert not pipeline.scorer.learn_example(examples[1], 0, 50)  # the origin's own copy
    assert pipeline.scorer.sets[1].models["intent"].version == 1
    # the ids learnt survive a checkpoint (a resend after a restart is skipped too)
    restored = pickle.loads(pickle.dumps(pipeline.scorer.sets[1]))
    assert restored.examples.get("l0:intent") is True


def test_sentiment_examples_are_shared_and_unknown_models_refused() -> None:
    pipeline = Pipeline()
    pipeline.feed(message(1, "this is wonderful, thank you"), 2)
    pipeline.feed(label(1, "positive", kind="sentiment"), 2)
    (example,) = pipeline.scorer.take_examples()
    assert (example.model, example.label, example.origin) == ("sentiment", "positive", 2)
    assert pipeline.scorer.learn_example(example, 3, 0)
    bogus = Example("x:churn", "churn", "text", "1", 2)
    assert not pipeline.scorer.learn_example(bogus, 3, 1)
