"""The intent model steers drafting: with the warm-start snapshot, held-out Bitext
messages the keyword rules get wrong are requested and drafted for the model's intent
(``intent_source: model``); without a model that knows them the rules decide
(``intent_source: rules``), and a "thanks!" still asks for no reply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.drafting.llm.intent import detect
from online_models.evaluate import data
from online_models.warm import load
from streams.core.settings import Settings
from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import message, wire, worker_env
from tests.integration.test_warm_start import build_snapshot
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

__all__ = ["fault"]


def rules_miss(snapshot: Path, n: int) -> list[tuple[str, str]]:
    """Held-out Bitext messages the rules get wrong and the snapshot gets right, confidently."""
    key = Settings(_env_file=None).models_checkpoint_key.get_secret_value().encode()
    intent = load(snapshot.read_bytes(), key).models["intent"]
    found = []
    for text, label in data.bitext(seed=0).test:
        guess = intent.predict_one({"text": text})
        confident = guess.value == label and (guess.confidence or 0) >= 0.8
        if confident and detect(text) not in (label, "acknowledgement"):
            found.append((text, label))
        if len(found) == n:
            return found
    raise AssertionError(f"only {len(found)} held-out messages the rules miss")


async def test_model_intent_steers_requests_and_drafts(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM, tmp_path: Path
) -> None:
    fault.reset("ok", latency_s=0.1)
    snapshot = tmp_path / "warm.rpck"
    build_snapshot(scope, snapshot)
    cases = rules_miss(snapshot, 4)
    start_worker(**worker_env(fault, RAPPORT_MODELS_WARM_START_PATH=str(snapshot)))
    events = [
        message(f"i{n}", f"ci{n}", f"conv-i{n}", text, at=n) for n, (text, _) in enumerate(cases)
    ]
    events.append(message("thanks", "ci0", "conv-i0", "thanks!", at=10))
    await produce(scope.topic("interactions"), wire(events))
    requests = await collect(scope.topic("reply_requests"), len(cases), timeout=60, settle=3)
    by_id: dict[str, dict[str, Any]] = {str(r.json()["request_id"]): r.json() for r in requests}
    assert set(by_id) == {f"i{n}" for n in range(len(cases))}  # "thanks!": no reply needed
    for n, (text, label) in enumerate(cases):
        request = by_id[f"i{n}"]
        assert (request["intent"], request["intent_source"]) == (label, "model"), text
        assert request["intent"] != detect(text) and float(request["intent_confidence"]) >= 0.6
    drafts = await collect(scope.topic("drafted_replies"), len(cases), timeout=60)
    assert {(d.json()["intent"], d.json()["intent_source"]) for d in drafts} == {
        (label, "model") for _, label in cases
    }


async def test_without_a_model_the_rules_decide(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.1)
    start_worker(**worker_env(fault, RAPPORT_MODELS_WARM_START="false"))
    text = "I want to change the delivery address of my order"
    await produce(scope.topic("interactions"), wire([message("r1", "cr", "conv-r", text)]))
    (request,) = await collect(scope.topic("reply_requests"), 1, timeout=60)
    body = request.json()
    assert (body["intent"], body["intent_source"]) == (detect(text), "rules")
    assert body["intent_confidence"] is None  # a cold model abstains
