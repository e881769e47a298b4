"""``rapport bench drafting``: ingest + features throughput, drafting off and on (2 s LLM).

Both runs use fresh topics and a real worker, on the same broker, in one command,
alternating (off, on, off, on, ...) so that drift on a shared machine hits both
alike. Every event is an inbound message that needs a reply, so with drafting on
every event becomes a reply request and the drafting agent calls a local
OpenAI-compatible server that answers each call after ``--llm-latency`` seconds.
Throughput is events over the span from the first forwarded event (its broker
timestamp) to the moment the worker's group has committed every record of
``interactions`` and ``events``: ingest and the features agent (and the other agents
reading ``events``) are done with them, as in ``rapport bench pipeline``. The target:
that throughput with drafting on is at least 95% of it with drafting off (LLM latency
never holds up the hot path).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from streams.bench.harness import (
    Result,
    bench_events,
    drained,
    first_timestamp,
    free_port,
    print_results,
    proc_stats,
    produce,
)
from streams.core.settings import Settings
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker

TARGET = 0.95


class SlowLLM:
    """An OpenAI-compatible completions endpoint answering after ``latency_s``."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    async def _complete(self, request: web.Request) -> web.Response:
        self.calls += 1
        await asyncio.sleep(self.latency_s)
        choice = {
            "index": 0,
            "text": " I will check your order right away.",
            "finish_reason": "stop",
        }
        usage = {"prompt_tokens": 200, "completion_tokens": 9, "total_tokens": 209}
        body = {
            "id": "b",
            "object": "text_completion",
            "created": int(time.time()),
            "model": "slow",
        }
        return web.json_response({**body, "choices": [choice], "usage": usage})

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_post("/v1/completions", self._complete)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> SlowLLM:
        threading.Thread(target=self._run, name="slow-llm", daemon=True).start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


def ingest_run(settings: Settings, n: int, label: str) -> Result:
    """One worker: produce ``n`` messages, time them through ingest and features."""
    worker = start_worker(settings)
    try:
        records = bench_events(n, uuid.uuid4().hex[:8], False)
        asyncio.run(produce(settings, settings.topic_name("interactions"), records))
        done = asyncio.run(drained(settings, 1800))
        start = asyncio.run(first_timestamp(settings, settings.topic_name("events"), 60))
        cpu, rss = proc_stats(worker.pid)
    finally:
        stop_child(worker, timeout=30)  # a stuck shutdown does not void the measurement
    return Result(label, n, n / max(1e-3, done - start), None, None, cpu, rss)


def run_drafting_bench(settings: Settings, args: argparse.Namespace) -> int:
    n: int = args.events
    tag = uuid.uuid4().hex[:8]
    off: list[Result] = []
    on: list[Result] = []
    with SlowLLM(args.llm_latency) as llm:
        for round_ in range(args.rounds):
            for enabled in (False, True):
                name = f"bench.{tag}.{'on' if enabled else 'off'}{round_}."
                run = settings.model_copy(
                    update={
                        "topic_prefix": name,
                        "app_id": name.replace(".", "-").strip("-"),
                        "data_dir": settings.data_dir / "bench" / tag / name.strip("."),
                        "drafting_enabled": enabled,
                        "redis_key_prefix": f"{settings.redis_key_prefix}{name}",
                        "web_port": free_port(),
                        "llm_base_url": f"http://127.0.0.1:{llm.port}/v1",
                        "llm_timeout_s": args.llm_latency + 5,
                    }
                )
                label = f"ingest+features, drafting on (LLM {args.llm_latency:g} s)"
                result = ingest_run(run, n, label if enabled else "ingest+features, drafting off")
                (on if enabled else off).append(result)
        calls = llm.calls
    results = [*off, *on]
    print_results(results)
    ratio = statistics.median(r.events_per_s for r in on) / statistics.median(
        r.events_per_s for r in off
    )
    verdict = "meets" if ratio >= TARGET else "misses"
    print(
        f"median ratio on/off: {ratio:.3f} ({verdict} the {TARGET:.0%} target); "
        f"LLM calls during the 'on' runs: {calls}"
    )
    _write(Path(args.json), results, ratio, calls, args)
    return 0 if ratio >= TARGET else 1


def _write(
    out: Path, results: list[Result], ratio: float, calls: int, args: argparse.Namespace
) -> None:
    doc: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "events": args.events,
        "llm_latency_s": args.llm_latency,
        "results": [asdict(r) for r in results],
        "ratio_on_off": ratio,
        "llm_calls": calls,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2))
    print(f"written to {out}")
