"""A fault-injecting OpenAI-compatible server for tests, on 127.0.0.1 in a thread.

Serves ``POST /v1/completions`` and ``POST /v1/chat/completions``. What an attempt
gets is, in order: the ``plan`` of its request id (``X-Rapport-Request-Id``) indexed
by attempt (the last entry repeats), else the next entry of ``script``, else
``default``. Behaviours:

``ok`` (after ``latency_s``), ``429`` (with ``Retry-After: retry_after``), ``500``,
``503``, ``400``, ``404``, ``hang`` (sleeps ``hang_s``), ``truncated`` (a cut JSON body
with a longer Content-Length), ``invalid_json``, ``slow_stream`` (one byte every 0.5 s),
``echo`` (answers with the whole prompt), ``invent`` (a reply with an invented phone
number, link and price).

Every attempt is recorded (request id, attempt, behaviour, raw body) in ``calls``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

REPLY = "I'm sorry for the trouble. I will check this for you and get back to you today."
INVENTED = (
    "Please call us at 1-888-555-0142 or visit https://support.example-shop.com/help; "
    "a replacement costs $49.99."
)


@dataclass(frozen=True)
class Call:
    request_id: str
    attempt: int
    behaviour: str
    body: bytes
    at: float


@dataclass
class FaultLLM:
    default: str = "ok"
    latency_s: float = 0.0
    hang_s: float = 30.0
    retry_after: str = "1"
    reply: str = REPLY
    replies: dict[str, str] = field(default_factory=dict)
    """The ``ok`` answer of some request ids (``reply`` for the others)."""
    script: deque[str] = field(default_factory=deque)
    plan: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self, default: str = "ok", **attrs: Any) -> None:
        with self._lock:
            self.default = default
            self.latency_s, self.hang_s, self.retry_after, self.reply = 0.0, 30.0, "1", REPLY
            self.script.clear()
            self.plan.clear()
            self.replies = {}
            self.calls.clear()
            for name, value in attrs.items():
                setattr(self, name, value)

    def attempts(self, request_id: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.request_id == request_id]

    def first_attempts(self) -> dict[str, int]:
        """How many times each request id started a call (attempt 1): 1 means no duplicate."""
        out: dict[str, int] = {}
        with self._lock:
            for c in self.calls:
                if c.attempt == 1:
                    out[c.request_id] = out.get(c.request_id, 0) + 1
        return out

    def _pick(self, request_id: str, attempt: int) -> str:
        with self._lock:
            steps = self.plan.get(request_id)
            if steps:
                return steps[min(attempt, len(steps)) - 1]
            if self.script:
                return self.script.popleft()
            return self.default

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        rid = request.headers.get("X-Rapport-Request-Id", "")
        attempt = int(request.headers.get("X-Rapport-Attempt", "1"))
        behaviour = self._pick(rid, attempt)
        with self._lock:
            self.calls.append(Call(rid, attempt, behaviour, body, time.monotonic()))
        chat = request.path.endswith("/chat/completions")
        return await self._respond(request, behaviour, orjson.loads(body), chat, rid)

    async def _respond(
        self,
        request: web.Request,
        behaviour: str,
        payload: dict[str, Any],
        chat: bool,
        rid: str = "",
    ) -> web.StreamResponse:
        if behaviour == "429":
            return web.json_response(
                {"error": {"message": "slow down"}},
                status=429,
                headers={"Retry-After": self.retry_after},
            )
        if behaviour in ("400", "404", "500", "503"):
            return web.json_response({"error": {"message": "boom"}}, status=int(behaviour))
        if behaviour == "hang":
            await asyncio.sleep(self.hang_s)
        if behaviour == "invalid_json":
            return web.Response(text="{not json", content_type="application/json")
        text = self.replies.get(rid, self.reply)
        if behaviour == "echo":
            text = str(payload.get("prompt") or orjson.dumps(payload.get("messages")).decode())
        elif behaviour == "invent":
            text = INVENTED
        if behaviour == "ok" and self.latency_s:
            await asyncio.sleep(self.latency_s)
        raw = orjson.dumps(_completion(payload, text, chat))
        if behaviour in ("truncated", "slow_stream"):
            return await self._partial(request, raw, behaviour)
        return web.Response(body=raw, content_type="application/json")

    async def _partial(
        self, request: web.Request, raw: bytes, behaviour: str
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(raw)
        await resp.prepare(request)
        if behaviour == "truncated":
            await resp.write(raw[: len(raw) // 2])
            if request.transport is not None:
                request.transport.close()
            return resp
        for i in range(len(raw)):
            await resp.write(raw[i : i + 1])
            await asyncio.sleep(0.5)
        await resp.write_eof()
        return resp

    # --- lifecycle
    def start(self) -> FaultLLM:
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_post("/v1/completions", self._handle)
            app.router.add_post("/v1/chat/completions", self._handle)
            self._runner = web.AppRunner(app, shutdown_timeout=0.5)
            loop.run_until_complete(self._runner.setup())
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            site = web.SockSite(self._runner, sock)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2))
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fault-llm", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def _completion(payload: dict[str, Any], text: str, chat: bool) -> dict[str, Any]:
    usage = {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}
    if chat:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": " " + text, "finish_reason": "stop", "logprobs": None}
        kind = "text_completion"
    return {
        "id": "cmpl-fault",
        "object": kind,
        "created": int(time.time()),
        "model": str(payload.get("model", "fault")),
        "choices": [choice],
        "usage": usage,
    }
