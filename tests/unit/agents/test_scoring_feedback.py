"""Reviewers' draft feedback as intent labels, and the scorer's bad-input counters."""

from __future__ import annotations

from prometheus_client import REGISTRY

from agents.drafting.llm.intent import detect
from schemas.events import Event
from tests.support.scoring import Pipeline, event, label, message


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def feedback_count(verdict: str, outcome: str) -> float:
    return sample("rapport_scoring_feedback_total", verdict=verdict, outcome=outcome)


def labels_count(model: str, outcome: str) -> float:
    return sample("rapport_scoring_labels_total", model=model, outcome=outcome)


def bad_input(model: str, reason: str) -> float:
    return sample("rapport_scoring_bad_input_total", model=model, reason=reason)


def feedback(event_id: str, draft_id: str, verdict: str, t: float, customer: str = "c1") -> Event:
    return event("draft_feedback", event_id, customer, t, draft_id=draft_id, verdict=verdict)


TEXTS = {
    "cancel_order": ["I want to cancel my order 123", "please cancel the order I placed"],
    "get_invoice": ["send me the invoice please", "I need a receipt for that"],
}


def test_accepted_feedback_confirms_the_detected_intent_as_a_label() -> None:
    pipe = Pipeline()
    models = pipe.scorer.models(0)
    intent = models.models["intent"]
    pairs = zip(*TEXTS.values(), strict=True)  # alternating intents, three rounds
    texts = list(enumerate([t for pair in pairs for t in pair] * 3))
    for i, text in texts:
        assert detect(text) in TEXTS  # the draft's intent, as the reply-request agent saw it
        pipe.feed(message(i, text, t=10 * i))
    learnt, accepted = labels_count("intent", "learnt"), feedback_count("accepted", "learnt")
    for i, _ in texts:
        pipe.feed(feedback(f"f{i}", f"draft-m{i}", "accepted", 10 * i + 5))
    assert intent.version == len(texts), "one intent label per accepted draft"
    assert labels_count("intent", "learnt") - learnt == len(texts)
    assert feedback_count("accepted", "learnt") - accepted == len(texts)
    report = models.monitors["intent"].report()
    assert report["n"] == len(texts) and list(report["by_segment"]) == ["feedback"]
    # the learnt label shows in the next insight: predicted intent and model version
    scored = {i.model: i for i in pipe.feed(message(40, "I need to cancel my order", t=400))}
    assert scored["intent"].prediction == "cancel_order"
    assert scored["intent"].model_version == len(texts)

    # edited and rejected drafts give no label; a redelivered feedback is not learnt again
    no_label = {v: feedback_count(v, "no_label") for v in ("edited", "rejected")}
    pipe.feed(feedback("g1", "draft-m0", "edited", 500))
    pipe.feed(feedback("g2", "draft-m1", "rejected", 501))
    assert {v: feedback_count(v, "no_label") - n for v, n in no_label.items()} == {
        "edited": 1,
        "rejected": 1,
    }
    replayed = feedback_count("accepted", "replayed")
    pipe.feed(feedback("f0", "draft-m0", "accepted", 5), offset=texts[-1][0] + 1)
    assert feedback_count("accepted", "replayed") - replayed == 1
    assert intent.version == len(texts)


def test_feedback_for_an_unknown_message_is_unmatched() -> None:
    pipe = Pipeline()
    intent = pipe.scorer.models(0).models["intent"]
    pipe.feed(message(1, "I want to cancel my order 123"))
    pipe.feed(message(2, "hmm", customer="c2"))
    unmatched = labels_count("intent", "unmatched"), feedback_count("accepted", "unmatched")
    pipe.feed(feedback("f1", "draft-m99", "accepted", 10))  # no message m99
    pipe.feed(feedback("f2", "draft-m1", "accepted", 11, customer="c9"))  # not c9's message
    pipe.feed(feedback("f3", "draft-engage-m1:churn", "accepted", 12))  # engagement: none
    assert labels_count("intent", "unmatched") - unmatched[0] == 3
    assert feedback_count("accepted", "unmatched") - unmatched[1] == 3
    no_label = feedback_count("accepted", "no_label")
    pipe.feed(feedback("f4", "draft-m2", "accepted", 13, customer="c2"))  # detector: other
    assert feedback_count("accepted", "no_label") - no_label == 1
    assert intent.version == 0, "nothing learnt"
    pipe.feed(event("erasure", "e1", "c1", 20))
    pipe.feed(feedback("f5", "draft-m1", "accepted", 21))  # erased: the text is gone
    assert feedback_count("accepted", "unmatched") - unmatched[1] == 4
    assert intent.version == 0


def test_bad_inputs_are_counted_never_raised() -> None:
    pipe = Pipeline()
    models = pipe.scorer.models(0)
    keys = [
        ("churn", "duplicate_outcome"),
        ("sentiment", "empty_text"),
        ("intent", "empty_text"),
        *((m, "missing_features") for m in ("churn", "segment", "anomaly")),
    ]
    before = {k: bad_input(*k) for k in keys}
    outcomes = {
        k: labels_count(*k)
        for k in [("churn", "learnt"), ("churn", "unmatched")]
        + [(m, o) for m in ("intent", "sentiment") for o in ("refused", "unmatched")]
    }
    corpus: list[Event] = [
        # a sentiment label from a rating: empty texts then get the class prior
        event("rating", "r1", "c3", 0.5, score=5, comment="great service, thanks"),
        event("subscription", "s1", "a", 1, action="started", plan="Month-to-month"),
        event("page_view", "p1", "a", 2, url="/"),
        event("subscription", "s2", "a", 3, action="cancelled"),  # closes a's hold: learnt
        event("subscription", "s3", "a", 4, action="cancelled"),  # the same outcome again
        event("subscription", "s4", "b", 5, action="retained"),  # no open hold: unmatched
        event("subscription", "s5", "b", 6, action="retained"),  # again: duplicate
        message(7, ""),
        message(8, "   "),
        message(9, "... ---", customer="c2"),  # punctuation: no words either
        label(7, "cancel_order", t=10),  # a label on a message without words: refused
        label(8, "angry", kind="sentiment", t=11),  # not a sentiment: refused
        label(99, "refund", t=12),  # no such message: unmatched
        label(98, "positive", kind="sentiment", t=13),
    ]
    insights = pipe.run(corpus)
    texts = [i for i in insights if i.model in ("sentiment", "intent")]
    assert len(texts) == 6, "an empty message still gets both insights"
    sentiments = [i for i in texts if i.model == "sentiment"]
    assert all(i.prediction == "positive" for i in sentiments), "the class prior"
    assert all(i.explanation["reason"] == "no text features" for i in sentiments)
    assert all(i.prediction == "unknown" for i in texts if i.model == "intent")
    state = pipe.engine.state("c1")
    assert state is not None and "sentiment_trend" not in state.models, "the prior is no mood"
    # an event whose customer has no feature vector (not applied by the engine)
    ghost = event("page_view", "g1", "ghost", 20, url="/")
    pipe.offsets[0] += 1
    assert pipe.scorer.score(ghost, 0, pipe.offsets[0]) == []
    assert {k: bad_input(*k) - n for k, n in before.items()} == {
        ("churn", "duplicate_outcome"): 2,
        ("sentiment", "empty_text"): 3,
        ("intent", "empty_text"): 3,
        ("churn", "missing_features"): 1,
        ("segment", "missing_features"): 1,
        ("anomaly", "missing_features"): 1,
    }
    assert {k: labels_count(*k) - n for k, n in outcomes.items()} == {
        ("churn", "learnt"): 1,
        ("churn", "unmatched"): 1,
        ("intent", "refused"): 1,
        ("intent", "unmatched"): 1,
        ("sentiment", "refused"): 1,
        ("sentiment", "unmatched"): 1,
    }
    assert models.churn.version == 1 and models.monitors["churn"].n == 1
    assert models.models["intent"].version == 0 and models.models["sentiment"].version == 1
    # a new subscription action ends the outcome: a later cancellation counts again
    pipe.feed(event("subscription", "s6", "a", 30, action="started"))
    pipe.feed(event("page_view", "p2", "a", 31, url="/"))
    pipe.feed(event("subscription", "s7", "a", 32, action="cancelled"))
    assert models.churn.version == 2
    assert bad_input("churn", "duplicate_outcome") - before[("churn", "duplicate_outcome")] == 2


def test_accepted_feedback_confirms_the_drafts_own_intent_when_it_says() -> None:
    """A draft written for the model's intent (the console sends it with the verdict):
    that intent is what the acceptance confirms, not the keyword rules' guess."""
    pipe = Pipeline()
    models = pipe.scorer.models(0)
    text = "my parcel from the spring sale never showed up"
    assert detect(text) != "missing_delivery"
    pipe.feed(message(1, text, t=10))
    said = event(
        "draft_feedback", "f1", "c1", 15, draft_id="draft-m1", verdict="accepted",
        intent="missing_delivery",
    )  # fmt: skip
    pipe.feed(said)
    assert models.models["intent"].predict_one({"text": text}).value == "missing_delivery"
