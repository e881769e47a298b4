"""The bias audit: a model much less accurate for one channel than another publishes a
``bias_{model}`` alert insight beside its metrics report, with the disparity figures;
a model equally good everywhere, or segments with too few examples, publish none."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import REGISTRY

from agents.scoring.report import BiasRule, MetricsReporter
from agents.scoring.state import ModelConfig, PartitionModels

AT = datetime(2030, 1, 1, tzinfo=UTC)


def scored(chat_right: int, email_right: int, n: int = 100) -> PartitionModels:
    models = PartitionModels(2, ModelConfig())
    models.advance(AT)
    monitor = models.monitors["intent"]
    for i in range(n):
        monitor.update("refund", "refund" if i < chat_right else "card", segment="chat")
        monitor.update("refund", "refund" if i < email_right else "card", segment="email")
    return models


def test_a_worse_group_raises_the_alert() -> None:
    reporter = MetricsReporter(60.0, started=0.0, bias=BiasRule(0.8, 50))
    out = reporter.due(60.0, [scored(chat_right=95, email_right=60)], AT)
    assert [i.model for i in out] == ["metrics_intent", "bias_intent"]
    alert = out[1]
    assert alert.explanation["worst"] == "email" and alert.explanation["best"] == "chat"
    assert alert.prediction == round(0.60 / 0.95, 6)
    assert alert.explanation["gap"] == 0.35 and alert.explanation["threshold"] == 0.8
    assert alert.insight_id == f"{out[0].event_id}:bias_intent"
    ratio = REGISTRY.get_sample_value(
        "rapport_model_disparity_ratio", {"model": "intent", "partition": "2"}
    )
    assert ratio == alert.prediction


def test_no_alert_when_groups_are_close_or_small() -> None:
    close = MetricsReporter(60.0, started=0.0, bias=BiasRule(0.8, 50))
    assert [i.model for i in close.due(60.0, [scored(90, 85)], AT)] == ["metrics_intent"]
    small = MetricsReporter(60.0, started=0.0, bias=BiasRule(0.8, 50))
    few = scored(chat_right=40, email_right=5, n=40)  # 40 examples each: below 50
    assert [i.model for i in small.due(60.0, [few], AT)] == ["metrics_intent"]
