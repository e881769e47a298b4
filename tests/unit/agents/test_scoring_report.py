"""Prequential figures published as ``metrics_{model}`` insights by the scoring tick."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from agents.scoring.agent import ScoringAgent
from agents.scoring.report import MetricsReporter
from schemas.published import Insight
from streams.core.settings import Settings
from tests.support.scoring import NOW, Pipeline, event, label, message


def labelled(pipe: Pipeline, start: int, count: int) -> None:
    """``count`` intent-labelled messages (chat and email) and one churn outcome."""
    texts = [("where is my card", "card_arrival"), ("I want a refund", "refund")]
    for i in range(start, start + count):
        text, intent = texts[i % 2]
        channel = "chat" if i % 3 else "email"
        pipe.feed(message(i, text, t=10 * i, channel=channel))
        pipe.feed(label(i, intent, t=10 * i + 5))


def test_metrics_insights_carry_overall_and_segment_figures() -> None:
    pipe = Pipeline()
    labelled(pipe, 0, 12)
    pipe.feed(event("subscription", "s1", "a", 200, action="started", plan="One year"))
    pipe.feed(event("subscription", "s2", "a", 201, action="cancelled"))
    models = pipe.scorer.models(0)
    reporter = MetricsReporter(60.0, started=100.0)
    assert reporter.due(159.9, [models], NOW) == [], "not before the interval"
    found = {i.model: i for i in reporter.due(160.0, [models], NOW)}
    # sentiment has no labelled example; anomaly abstains while it warms up
    assert sorted(found) == ["metrics_churn", "metrics_intent", "metrics_segment"]
    intent = found["metrics_intent"]
    report = models.monitors["intent"].report()
    assert models.watermark is not None
    stamp = int(models.watermark.timestamp())
    assert intent.insight_id == f"models:0:12:{stamp}:metrics_intent"
    assert intent.customer_id == "#models"
    assert intent.prediction == round(report["accuracy"], 6) and intent.confidence is None
    assert intent.model_version == models.models["intent"].version == 12
    assert intent.explanation["examples"] == 12 and intent.explanation["partition"] == 0
    assert intent.explanation["overall"] == {
        "accuracy": round(report["accuracy"], 6),
        "macro_f1": round(report["macro_f1"], 6),
    }
    by_segment = intent.explanation["by_segment"]
    assert sorted(by_segment) == ["chat", "email"]
    assert by_segment["chat"]["accuracy"] == round(report["by_segment"]["chat"]["accuracy"], 6)
    assert intent.occurred_at == models.watermark and intent.produced_at == NOW
    churn = found["metrics_churn"]
    assert churn.explanation["examples"] == 1 and list(churn.explanation["by_segment"]) == [
        "One year"
    ]
    assert set(churn.explanation["overall"]) == {"roc_auc", "log_loss", "accuracy"}
    Insight.model_validate_json(churn.model_dump_json())  # a valid record for the sink
    # segment has no label: its error stream is the distance to the assigned centre
    segment = found["metrics_segment"]
    errors = models.monitors["segment"].report()
    assert segment.explanation["examples"] == errors["n"] == 13  # behaviour events after the first
    assert set(segment.explanation["overall"]) == {"mean_error"}
    assert segment.prediction == round(errors["mean_error"], 6)
    assert 0.0 < errors["mean_error"] < 1.0
    assert set(segment.explanation["by_segment"]) <= {str(k) for k in range(8)}
    # nothing new: nothing published; new examples: only that model, under a new id
    assert reporter.due(220.0, [models], NOW) == []
    labelled(pipe, 20, 2)
    again = reporter.due(280.0, [models], NOW)
    stamp = int(models.watermark.timestamp())
    assert [i.insight_id for i in again] == [
        f"models:0:14:{stamp}:metrics_intent",
        f"models:0:15:{stamp}:metrics_segment",
    ]
    # a revoked partition is reported again by whoever owns it next
    reporter.forget({0})
    assert [i.model for i in reporter.due(340.0, [models], NOW)] == [
        "metrics_intent",
        "metrics_churn",
        "metrics_segment",
    ]
    assert MetricsReporter(0, started=0.0).due(1e9, [models], NOW) == [], "0: never"


@dataclass
class Producer:
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes, value: bytes, *args: Any) -> None:
        self.sent.append((topic, key, value))


async def test_the_scoring_tick_publishes_them_at_the_interval() -> None:
    settings = Settings(_env_file=None, models_metrics_interval_s=0.2)
    pipe = Pipeline()
    labelled(pipe, 0, 4)
    producer = Producer()
    runtime = SimpleNamespace(app=SimpleNamespace(producer=producer), settings=settings)
    features = SimpleNamespace(engine=pipe.engine, rules=pipe.rules)
    agent = ScoringAgent(cast(Any, runtime), cast(Any, features), pipe.scorer.holds)
    agent.scorer.sets = pipe.scorer.sets
    await agent.tick()
    assert producer.sent == [], "the first report comes one interval after the start"
    await asyncio.sleep(0.25)
    await agent.tick()
    topic = settings.topic_name("insights")
    assert [(t, k) for t, k, _ in producer.sent] == [(topic, b"#models")] * 2
    sent = [Insight.model_validate_json(value) for _, _, value in producer.sent]
    assert [(i.model, i.explanation["examples"]) for i in sent] == [
        ("metrics_intent", 4),
        ("metrics_segment", 3),  # the first message had no segment to measure against
    ]
    await asyncio.sleep(0.25)
    await agent.tick()
    assert len(producer.sent) == 2, "no new example: no second report"
