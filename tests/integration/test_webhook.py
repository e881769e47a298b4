"""Drafted replies pushed to a webhook, on the real stack: every draft delivered with a
valid signature; a receiver down for 30 s gets every draft once it is back, none twice
(a worker killed and started again sends nothing again); a draft the receiver refuses
is dead-lettered and counted."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Callable

import orjson
from aiohttp import web

from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import message, wire, worker_env
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess, free_port, metric

__all__ = ["fault"]
SECRET = "webhook-test-secret"
QUESTIONS = (
    "where is my order 55512345?",
    "my card was declined twice",
    "how do I change my delivery address?",
    "I want a refund for the broken lamp",
    "can I cancel my subscription?",
    "the app keeps logging me out",
)


def deliveries(port: int, outcome: str) -> float:
    samples = metric(port, "rapport_webhook_deliveries_total")
    return sum(value for labels, value in samples if labels.get("outcome") == outcome)


class Receiver:
    """A helpdesk's endpoint: records each delivery, refusing the drafts in ``refuse``."""

    def __init__(self, port: int, refuse: frozenset[str] = frozenset()) -> None:
        self.port = port
        self.refuse = refuse
        self.delivered: list[dict[str, object]] = []
        self.bad_signatures = 0
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers["X-Rapport-Timestamp"]
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        signature = request.headers["X-Rapport-Signature"]
        if not hmac.compare_digest(signature, f"sha256={mac.hexdigest()}"):
            self.bad_signatures += 1
            return web.Response(status=401)
        draft = orjson.loads(body)
        assert request.headers["X-Rapport-Draft-Id"] == draft["draft_id"]
        if draft["draft_id"] in self.refuse:
            return web.Response(status=400, text="unknown conversation")
        self.delivered.append(draft)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/drafts", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_receiver_down_30s_gets_every_draft_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.1)
    port = free_port()
    env = worker_env(
        fault,
        RAPPORT_DRAFTING_WEBHOOK_URL=f"http://127.0.0.1:{port}/drafts",
        RAPPORT_DRAFTING_WEBHOOK_SECRET=SECRET,
        RAPPORT_DRAFTING_WEBHOOK_BACKOFF_MAX_S="2",
    )
    worker = start_worker(**env)
    refused = "draft-w5"
    receiver = Receiver(port, refuse=frozenset({refused}))
    events = [
        message(f"w{i}", f"cw{i}", f"conv-w{i}", text, at=i) for i, text in enumerate(QUESTIONS)
    ]
    await produce(scope.topic("interactions"), wire(events))
    drafts = await collect(scope.topic("drafted_replies"), len(events), timeout=60)
    published = {str(r.json()["draft_id"]): r.json() for r in drafts}
    assert len(published) == len(events)

    down_since = time.monotonic()
    await asyncio.sleep(30)  # the receiver is down: nothing can be delivered
    assert deliveries(worker.port, "retried") >= 1
    await receiver.start()
    try:
        wanted = set(published) - {refused}
        deadline = time.monotonic() + 60
        while {str(d["draft_id"]) for d in receiver.delivered} != wanted:
            assert time.monotonic() < deadline, receiver.delivered
            await asyncio.sleep(0.5)
        print(f"delivered {len(wanted)} drafts {time.monotonic() - down_since:.1f}s after")
        assert receiver.bad_signatures == 0
        for draft in receiver.delivered:  # the record as published, untouched
            assert draft == published[str(draft["draft_id"])]
        letters = await collect(scope.topic("dlq"), 1, timeout=30)
        letter = letters[0].json()
        assert letter["reason_code"] == "webhook_undeliverable"
        assert f"refused draft {refused}: HTTP 400" in str(letter["reason"])
        assert deliveries(worker.port, "dead_letter") == 1

        worker.kill()  # read again from the last commit: nothing goes out twice
        worker.start()
        await asyncio.sleep(8)
        counts = Counter(str(d["draft_id"]) for d in receiver.delivered)
        assert set(counts.values()) == {1}, counts
        assert set(counts) == wanted
    finally:
        await receiver.stop()
