"""A worker with the warm-start snapshot and no labels at all: a replay of Bitext
messages the snapshot never saw (its holdout) yields intent insights that match
Bitext's intents far above the majority class, and sentiment from the first message;
every text insight names the snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from online_models.evaluate import data
from streams.replay.datasets import bitext
from tests.integration.conftest import Scope
from tests.support.features_worker import WORKER_ENV
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess


def build_snapshot(scope: Scope, path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "models", "warm-start"],
        env={**os.environ, **scope.env(), "RAPPORT_MODELS_WARM_START_PATH": str(path)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert path.is_file(), out.stdout + out.stderr
    return out.stdout


async def test_intent_from_the_first_message_without_labels(
    scope: Scope, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    snapshot = tmp_path / "warm.rpck"
    printed = build_snapshot(scope, snapshot)
    assert "warm-start snapshot warm-" in printed
    holdout = dict(data.bitext(seed=0).test)  # text -> intent, never seen by the snapshot
    messages = [
        r.event
        for r in bitext(seed=5)
        if r.event["type"] == "message" and r.event["text"] in holdout
    ][:300]
    assert len(messages) == 300
    start_worker(
        **WORKER_ENV,
        RAPPORT_DRAFTING_ENABLED="false",
        RAPPORT_MODELS_WARM_START_PATH=str(snapshot),
    )
    wire = [(e["customer_id"].encode(), orjson.dumps(e)) for e in messages]  # no label events
    await produce(scope.topic("interactions"), wire)
    # intent and sentiment per message, and whatever else the models publish
    records = await collect(scope.topic("insights"), 2 * len(messages), timeout=120, settle=5)
    insights: list[dict[str, Any]] = [dict(r.json()) for r in records]
    intents = {i["event_id"]: i for i in insights if i["model"] == "intent"}
    sentiments = [i for i in insights if i["model"] == "sentiment"]
    assert len(intents) == len(messages) and len(sentiments) == len(messages)
    truth = {e["event_id"]: holdout[e["text"]] for e in messages}
    right = sum(intents[eid]["prediction"] == intent for eid, intent in truth.items())
    majority = Counter(truth.values()).most_common(1)[0][1]
    print(
        f"intent without labels: {right}/{len(truth)} right ({right / len(truth):.3f}); "
        f"majority class {majority / len(truth):.3f}"
    )
    assert right / len(truth) >= majority / len(truth) + 0.5
    assert all(i["prediction"] != "unknown" for i in sentiments)  # from the first message
    snapshot_id = printed.split("warm-start snapshot ", 1)[1].split()[0]
    assert {
        i["explanation"].get("snapshot") for i in insights if i["model"] in ("intent", "sentiment")
    } == {snapshot_id}
