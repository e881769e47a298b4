"""A replay of Bitext through a worker drafting with the local Gemma server, scored by
``rapport evaluate --replayed-drafts`` against Bitext's reference responses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.cli.evaluate_drafts import Similarity
from streams.core.settings import Settings
from streams.replay.datasets import bitext, bitext_references
from tests.integration.conftest import Scope
from tests.integration.test_sink import sql
from tests.support.features_worker import WORKER_ENV
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.llm
EVENTS = 30
"""Bitext records replayed: messages and the intent labels that follow them."""


async def test_replayed_bitext_drafts_are_scored_against_their_references(
    stack: Settings, scope: Scope, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    events = [r.event for r in islice(bitext(seed=3), EVENTS)]
    messages = {e["event_id"] for e in events if e["type"] == "message"}
    worker = start_worker(
        **WORKER_ENV,
        RAPPORT_LLM_BASE_URL=stack.llm_base_url,
        RAPPORT_LLM_TIMEOUT_S="30",
        RAPPORT_DRAFTING_DEADLINE_S="90",
        RAPPORT_DRAFTING_TEMPERATURE="0",
    )
    await produce(
        scope.topic("interactions"),
        [(e["customer_id"].encode(), orjson.dumps(e)) for e in events],
    )
    requests = await collect(scope.topic("reply_requests"), len(messages), timeout=90)
    asked = {orjson.loads(r.value or b"{}")["message_event_id"] for r in requests}
    assert asked and asked <= messages, "reply requests are for the replayed messages"

    query = "SELECT request_id, text, fallback FROM drafts WHERE startsWith(request_id, 'bitext-')"
    drafts: list[dict[str, object]] = []
    for _ in range(600):
        drafts = await asyncio.to_thread(sql, worker, query)
        if len(drafts) >= len(asked):
            break
        await asyncio.sleep(0.5)
    assert {str(d["request_id"]) for d in drafts} == asked, "one stored draft per request"

    out = tmp_path / "drafts.json"
    url = f"http://127.0.0.1:{worker.port}"
    argv = ["evaluate", "--replayed-drafts", "--url", url, "--json", str(out)]
    assert await asyncio.to_thread(main, argv) == 0
    report = json.loads(out.read_text())
    assert len(report["template"]) == len(asked)
    assert len(report["llm"]) + report["fallbacks"] == len(asked)
    assert report["llm"], "the local LLM drafted at least one reply"
    # the scores are those of each stored draft against its own message's reference
    references = bitext_references()
    sim = Similarity(list(references.values()))
    want = sorted(
        sim(str(d["text"]), references[str(d["request_id"])]) for d in drafts if not d["fallback"]
    )
    assert sorted(report["llm"]) == pytest.approx(want)
