"""The scorer on event sequences (no Kafka): the insights it publishes, what it learns."""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import timedelta

import orjson
import pytest

from agents.scoring.inputs import BEHAVIOUR
from agents.scoring.scorer import Scorer
from agents.scoring.state import ModelConfig
from agents.scoring.turn import Turn
from features.definitions import MODEL_OUTPUTS, Rules
from features.engine import FeatureEngine
from features.vector import model_inputs, vector
from online_models.base import Prediction
from schemas.events import parse_event
from schemas.published import Insight
from streams.replay import synthetic
from streams.replay.datasets import bitext
from tests.support.scoring import NOW, Pipeline, event, label, message


def ids(insights: list[Insight]) -> list[str]:
    return [i.insight_id for i in insights]


def test_inbound_message_gives_one_insight_per_model_with_stable_ids() -> None:
    pipe = Pipeline()
    first = pipe.feed(message(1, "where is my card?"))
    assert ids(first) == ["m1:sentiment", "m1:intent", "m1:churn"]
    by_model = {i.model: i for i in first}
    assert by_model["sentiment"].prediction == "unknown"  # cold start: stated abstention
    assert by_model["sentiment"].explanation["abstained"] is True
    assert by_model["churn"].prediction == 0.5 and by_model["churn"].model_version == 0
    assert all(i.occurred_at == first[0].occurred_at and i.produced_at == NOW for i in first)
    # a redelivery (same offset) republishes under the same ids (churn, segment and
    # anomaly whatever the rule says) and learns nothing
    models = pipe.scorer.sets[0]
    before = {name: m.version for name, m in models.models.items()}
    again = pipe.feed(message(1, "where is my card?"), offset=0)
    assert ids(again) == [*ids(first), "m1:segment"]
    assert {name: m.version for name, m in models.models.items()} == before
    # outbound messages are not scored by the text models
    out = pipe.feed(message(2, "we are on it", direction="outbound"))
    assert not {i.model for i in out} & {"sentiment", "intent"}


def test_labels_are_learnt_prequentially_and_unknown_messages_are_not() -> None:
    pipe = Pipeline()
    texts = [("where is my card", "card_arrival"), ("I want a refund", "refund")] * 6
    for i, (text, intent) in enumerate(texts):
        pipe.feed(message(i, text, t=10 * i))
        pipe.feed(label(i, intent, t=10 * i + 5))
    models = pipe.scorer.sets[0]
    assert models.models["intent"].version == len(texts)
    assert models.monitors["intent"].n == len(texts)
    assert models.monitors["intent"].report()["by_segment"]["chat"]["accuracy"] > 0.5
    pipe.feed(label(99, "refund", t=500))  # no message m99: unmatched, not learnt
    assert models.models["intent"].version == len(texts)
    scored = {i.model: i for i in pipe.feed(message(50, "my card has not arrived", t=600))}
    assert scored["intent"].prediction == "card_arrival"
    assert scored["intent"].model_version == len(texts)
    assert scored["intent"].explanation["channel"] == "chat"


def test_intent_beats_the_class_prior_on_bitext() -> None:
    records = list(bitext(seed=5, limit=3000))
    events = [parse_event(orjson.dumps(r.event)) for r in records]
    truth = {e.message_event_id: e.value for e in events if e.type == "label"}
    pipe = Pipeline()
    insights = pipe.run(events)
    intents = [i for i in insights if i.model == "intent"]
    assert len(intents) == sum(e.type == "message" for e in events)
    tail = [i for i in intents[len(intents) * 2 // 3 :] if i.event_id in truth]
    accuracy = sum(i.prediction == truth[i.event_id] for i in tail) / len(tail)
    prior = Counter(truth[i.event_id] for i in tail).most_common(1)[0][1] / len(tail)
    assert accuracy > max(0.6, 5 * prior), (accuracy, prior)
    models = pipe.scorer.sets[0]
    assert models.models["intent"].version == len(truth)
    assert models.monitors["intent"].report()["accuracy"] > 0.5


def test_rating_comments_are_weak_sentiment_labels() -> None:
    pipe = Pipeline()
    for k in range(6):
        pipe.feed(event("rating", f"r{k}", "c1", 10 * k, score=5, comment="great service, thanks"))
        pipe.feed(
            event("rating", f"s{k}", "c2", 10 * k + 1, score=1, comment="awful, still broken")
        )
    pipe.feed(event("rating", "plain", "c1", 100, score=3))  # no comment: nothing learnt
    models = pipe.scorer.sets[0]
    assert models.models["sentiment"].version == 12
    assert models.monitors["sentiment"].report()["by_segment"]["rating"]["accuracy"] > 0.5
    scored = {i.model: i for i in pipe.feed(message(1, "great, thanks", customer="c3", t=200))}
    assert scored["sentiment"].prediction == "positive"
    trend = pipe.engine.state("c3").models["sentiment_trend"]  # type: ignore[union-attr]
    assert 0 < trend <= 1


def test_churn_holds_close_on_cancellation_and_at_the_horizon() -> None:
    day = 86_400
    config = ModelConfig(churn_horizon_s=30 * day, lateness_s=3_600)
    pipe = Pipeline(config)
    telco = {"plan": "Month-to-month", "monthly_charges": 80.0, "tenure_months": 2}
    pipe.feed(event("subscription", "a0", "a", 0, action="started", **telco))
    pipe.feed(event("subscription", "b0", "b", 1, action="started", **telco))
    models = pipe.scorer.sets[0]
    assert len(models.join) == 2
    pipe.feed(event("subscription", "a1", "a", 10 * day, action="cancelled"))
    assert models.churn.version == 1 and len(models.join) == 1
    segment = models.monitors["churn"].report()["by_segment"]["Month-to-month"]
    assert segment["accuracy"] == 1.0  # an unlearnt 0.5 counts as "churns" (p >= 0.5)
    # b's horizon passes once the partition's watermark minus the lateness is beyond it
    pipe.feed(event("page_view", "x0", "x", 30 * day + 1 + 1_800, url="/"))
    assert models.churn.version == 1, "within the allowed lateness: still open"
    pipe.feed(event("page_view", "x1", "x", 30 * day + 1 + 3_601, url="/"))
    assert models.churn.version == 2 and models.monitors["churn"].n == 2
    # a cancellation after the horizon labels nothing (b's hold was closed as retained)
    pipe.feed(event("subscription", "b1", "b", 40 * day, action="cancelled"))
    assert models.churn.version == 2
    assert models.subscriptions.get("b") == {
        "Contract": "Month-to-month",
        "MonthlyCharges": 80.0,
        "tenure": 2,
    }


def test_churn_holds_survive_a_crash_in_the_holds_table() -> None:
    """A worker dies after learning two outcomes its last checkpoint does not hold (one
    customer already has a new hold): the restarted scorer relearns them from the holds
    table and expires the holds opened before the checkpoint, so it ends with the same
    churn model as a run without the crash (without the table, those holds and labels
    were gone with the process)."""
    day = 86_400
    config = ModelConfig(churn_horizon_s=30 * day, lateness_s=0)
    telco = {"plan": "Month-to-month", "monthly_charges": 70.0, "tenure_months": 1}
    events = [
        event("subscription", f"s{i}", f"c{i}", i, action="started", **telco) for i in range(6)
    ]
    events += [
        event("subscription", f"x{i}", f"c{i}", 10 * day + i, action="cancelled") for i in range(3)
    ]
    # c1 comes back before the crash: its new hold replaces the closed one in the table
    events.append(event("page_view", "back", "c1", 11 * day, url="/"))
    events.append(event("page_view", "late", "p", 31 * day, url="/"))  # c3..c5 retained
    whole = Pipeline(config)
    whole.run(events)

    crashed = Pipeline(config)
    crashed.run(events[:7])  # c0's cancellation learnt (offset 6)
    checkpoint = pickle.dumps(crashed.scorer.sets[0])
    crashed.run(events[7:10])  # c1 and c2 learnt, committed, not checkpointed
    restarted = Scorer(config, crashed.scorer.features, lambda: NOW, crashed.scorer.holds)
    restarted.adopt(pickle.loads(checkpoint))
    crashed.scorer = restarted
    crashed.feed(events[10])

    want, got = whole.scorer.sets[0], restarted.sets[0]
    assert want.churn.version == got.churn.version == 6
    assert want.monitors["churn"].n == got.monitors["churn"].n == 6
    probe = {"tenure": 5, "Contract": "Month-to-month", "events": 2}
    assert got.churn.proba(probe) == want.churn.proba(probe)
    assert len(got.join) == len(want.join) == 2  # c1's new hold and p's
    # a redelivered cancellation (offset 8) is not learnt twice
    restarted.score(events[8], 0, 8)
    assert got.churn.version == 6


def test_churn_segment_anomaly_follow_the_publication_rule() -> None:
    pipe = Pipeline(ModelConfig(publish_every=20))
    insights = pipe.run(event("page_view", f"p{k}", "c1", k, url="/") for k in range(45))
    churn = [i for i in insights if i.model == "churn"]
    assert [i.event_id for i in churn] == ["p0", "p20", "p40"]  # unlearnt: a constant 0.5
    assert all(i.prediction == 0.5 and "top_features" in i.explanation for i in churn)
    assert pipe.engine.state("c1").models["churn_risk"] == 0.5  # type: ignore[union-attr]
    segments = [i for i in insights if i.model == "segment"]
    assert segments and segments[0].event_id == "p1"  # first event: nothing learnt yet
    assert len(set(ids(insights))) == len(insights)


def test_reco_publishes_top_k_on_orders_and_cart_adds() -> None:
    pipe = Pipeline()
    item = {"quantity": 1, "unit_price": 5.0}
    for k, customer in enumerate(["a", "b"]):
        items = [{"product_id": "tent", **item}, {"product_id": "stove", **item}]
        order = {"order_id": f"o{k}", "items": items, "amount": 10.0, "currency": "EUR"}
        pipe.feed(event("order", f"o{k}", customer, k, **order))
    cart = pipe.feed(event("cart", "k1", "c", 10, cart_id="k", action="add", product_id="tent"))
    reco = [i for i in cart if i.model == "reco"]
    assert len(reco) == 1 and reco[0].insight_id == "k1:reco"
    assert reco[0].prediction == "stove" and reco[0].explanation["items"][0] == "stove"
    views = pipe.feed(event("page_view", "v1", "c", 11, url="/p/x", product_id="lamp"))
    assert "reco" not in {i.model for i in views}


def test_reco_is_scored_on_the_next_order_hit_or_miss_at_k() -> None:
    """Prequential: each order is first checked against the top-k recommended before it
    (a hit if any ordered product was in it), then learnt from; ADWIN watches misses."""
    pipe = Pipeline()
    item = {"quantity": 1, "unit_price": 5.0}

    def order(k: int, customer: str, *products: str) -> None:
        items = [{"product_id": p, **item} for p in products]
        body = {"order_id": f"o{k}", "items": items, "amount": 5.0, "currency": "EUR"}
        pipe.feed(event("order", f"o{k}", customer, k, **body))

    order(0, "a", "tent", "stove")  # nothing learnt yet: no prediction, not scored
    order(1, "b", "tent")  # popularity top-k holds tent: a hit
    order(2, "b", "stove")  # co-occurrence with b's tent: stove recommended, a hit
    order(3, "c", "lamp")  # popularity says tent and stove: a miss
    monitor = pipe.scorer.sets[0].monitors["reco"]
    assert monitor.n == 3
    assert monitor.report()["accuracy"] == pytest.approx(2 / 3)


def test_erasure_forgets_the_customer_in_every_model_and_cache() -> None:
    pipe = Pipeline()
    pipe.feed(message(1, "where is my card", customer="gone"))
    pipe.feed(event("subscription", "s1", "gone", 5, action="started", plan="One year"))
    pipe.feed(event("cart", "k1", "gone", 6, cart_id="k", action="add", product_id="tent"))
    models = pipe.scorer.sets[0]
    assert models.text_of("gone", "m1") is not None and len(models.join) == 1
    assert "gone" in models.models["reco"].histories  # type: ignore[attr-defined]
    assert pipe.feed(event("erasure", "e1", "gone", 10)) == []
    assert models.text_of("gone", "m1") is None and len(models.join) == 0
    assert models.subscriptions.get("gone") is None and models.last.get("gone") is None
    assert "gone" not in models.models["reco"].histories  # type: ignore[attr-defined]
    pipe.feed(label(1, "card_arrival", customer="gone", t=20))
    assert models.models["intent"].version == 0


def test_a_rising_error_rate_publishes_a_drift_insight() -> None:
    pipe = Pipeline()
    models = pipe.scorer.models(0)
    ev = message(1, "hello")
    turn = Turn(ev, models, True, NOW, pipe.scorer.features)
    for k in range(400):
        turn.monitor("intent", "a", "a" if k < 300 else "b", "chat")
    assert models.monitors["intent"].drifts, "ADWIN saw the change"
    assert [i.insight_id for i in turn.insights][:1] == ["m1:drift_intent"]
    assert turn.insights[0].model == "drift_intent" and turn.insights[0].prediction == "drift"


def test_segment_and_anomaly_drift_on_their_error_streams() -> None:
    """No labels: a customer base of light browsers turns into heavy buyers; the
    distance to the learnt segment centres and the anomaly scores rise, ADWIN flags it
    and a drift insight of each model follows within 100 events of the change."""
    pipe = Pipeline()
    out: list[Insight] = []
    for i in range(1200):
        out += pipe.feed(event("page_view", f"p{i}", f"c{i % 300}", 60 * i, url="/a"))
    item = {"product_id": "x", "quantity": 3, "unit_price": 1000.0}
    for i in range(200):
        order = {"order_id": f"o{i}", "amount": 5000.0 + i, "currency": "EUR", "items": [item]}
        out += pipe.feed(event("order", f"o{i}", f"big{i % 300}", 60 * (1200 + i), **order))
    after = {i.model for i in out if i.event_id.startswith("o") and i.model.startswith("drift_")}
    assert after == {"drift_segment", "drift_anomaly"}
    monitors = pipe.scorer.sets[0].monitors
    assert monitors["segment"].n == 1399  # every behaviour event after the first
    assert monitors["anomaly"].n == 1400 - 250  # after the warm-up window
    by_segment = monitors["segment"].report()["by_segment"]
    assert len(by_segment) > 1 and all(0 < v["mean_error"] < 1 for v in by_segment.values())


def test_abstaining_prediction_insight_fields() -> None:
    from agents.scoring.publish import insight  # noqa: PLC0415

    ev = message(1, "x")
    found = insight(ev, "segment", 3, Prediction(2, 1.7, {"distance": 0.1}), NOW)
    assert found.confidence == 1.0 and found.prediction == 2 and found.model_version == 3
    assert found.occurred_at - ev.occurred_at == timedelta(0)


def test_coalesced_behaviour_step_runs_once_per_customer_per_batch() -> None:
    """With ``coalesce`` (the worker's default) churn, segment, anomaly and reco's top-k
    run once per customer at the end of a batch, as insights of its latest events; text
    models still score every message, and an outcome still closes the hold its
    customer's earlier events in the batch opened."""
    telco = {"plan": "Month-to-month", "monthly_charges": 80.0, "tenure_months": 2}
    items = [{"product_id": p, "quantity": 1, "unit_price": 5.0} for p in ("tent", "stove")]
    order = {"order_id": "o", "items": items, "amount": 10.0, "currency": "EUR"}
    history = [event("order", "z0", "z", 0, **order)]
    batch = [
        event("subscription", "a0", "a", 1, action="started", **telco),
        event("page_view", "a1", "a", 2, url="/", product_id="tent"),
        message(3, "where is my card?", customer="b"),
        event("cart", "a3", "a", 4, cart_id="k", action="add", product_id="tent"),
        event("page_view", "b4", "b", 5, url="/"),
        event("page_view", "a5", "a", 6, url="/"),
        event("subscription", "b6", "b", 7, action="cancelled"),
    ]
    each, once = Pipeline(), Pipeline()
    once.scorer.coalesce = True
    per_event = each.run(history + batch)
    once.run(history)
    once.scorer.flush()
    during = once.run(batch)
    at_end = once.scorer.flush()
    # text models: the same insights, at the message
    text = [i.insight_id for i in per_event if i.model in ("sentiment", "intent")]
    assert text == [i.insight_id for i in during][:2] == ["m3:sentiment", "m3:intent"]
    # b's earlier events (m3, b4) opened its hold before the cancellation closed it: the
    # waiting step ran first, so the label is learnt as it is event by event
    # (segment and anomaly values depend on the hash seed through k-means' feature sets:
    # only their events are checked, not whether a value was due)
    assert [i for i in ids(during)[2:] if i.endswith(":churn")] == ["b4:churn"]
    assert once.scorer.sets[0].churn.version == each.scorer.sets[0].churn.version == 1
    # the rest waits for the end of the batch: one step per customer, its latest events
    assert [i for i in ids(at_end) if i.endswith((":churn", ":reco"))] == ["a5:churn", "a3:reco"]
    assert {i.event_id for i in at_end} <= {"a5", "a3", "b6"}
    assert len({(i.customer_id, i.model) for i in at_end}) == len(at_end)
    reco = next(i for i in at_end if i.model == "reco")
    assert reco.prediction == "stove" and reco.explanation["items"][0] == "stove"
    assert once.scorer.pending == {} and once.scorer.flush() == []
    # the customer's features carry the risk the step published
    state = once.engine.state("a")
    risk = next(i.prediction for i in at_end if i.model == "churn")
    assert state is not None and state.models["churn_risk"] == risk


def test_model_inputs_are_the_vectors_values_for_what_the_models_read() -> None:
    """The scorer reads ``model_inputs``, not the full vector: the same values, for every
    name the models read, over a replay of synthetic customers."""
    rules, engine = Rules(), FeatureEngine({}, {}, Rules())
    records = list(synthetic(seed=3, limit=3000, n_customers=200))
    for offset, record in enumerate(records):
        engine.process(parse_event(orjson.dumps(record.event)), 0, offset)
    compared = 0
    for customer_id in list(engine.cache):
        state = engine.state(customer_id)
        assert state is not None
        full, inputs = vector(state, rules), model_inputs(state, rules)
        assert set(BEHAVIOUR) | set(MODEL_OUTPUTS) <= set(inputs)
        assert {name: full[name] for name in inputs} == inputs
        compared += 1
    assert compared == len({r.customer_id for r in records}) > 100
