"""An OpenAI-compatible client with a deadline, retries with backoff, Retry-After and a
circuit breaker. One :meth:`LLMClient.complete` is one logical call: its attempts
share the request id (sent as ``X-Rapport-Request-Id`` and ``Idempotency-Key``).

Each attempt gets ``min(timeout_s, time left)``; 429, 5xx, timeouts, connection
errors and unreadable responses are retried ``max_retries`` times after
``backoff_s * 2**n`` (jittered, capped) or the server's ``Retry-After`` when longer;
a wait that would pass the deadline ends the call at once. Other 4xx are not retried.
Every attempt is counted with its duration, failures by kind (:mod:`.metrics`).

>>> retry_after({"retry-after": "3"}), retry_after({"retry-after-ms": "250"}), retry_after({})
(3.0, 0.25, None)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from pydantic import SecretStr

from agents.drafting.llm import DraftingError, metrics
from agents.drafting.llm.breaker import Breaker
from agents.drafting.llm.prompts import Prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    model: str
    api_key: SecretStr
    timeout_s: float
    max_retries: int
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int


class LLMUnavailable(DraftingError):  # noqa: N818 - reads as the condition it reports
    """No usable completion: ``reason`` is one of timeout, rate_limited, server_error,
    connection, bad_response, client_error, breaker_open, deadline."""

    def __init__(self, reason: str, attempts: int, detail: str = "") -> None:
        super().__init__(f"LLM unavailable ({reason}) after {attempts} attempt(s) {detail}")
        self.reason = reason
        self.attempts = attempts


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait (``Retry-After`` seconds or date, ``retry-after-ms``)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _classify(exc: BaseException) -> tuple[str, float | None]:
    """(reason, server's wait) of a failed attempt; reason ``client_error`` is final."""
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return "timeout", None
    if isinstance(exc, openai.APIStatusError):
        wait = retry_after(dict(exc.response.headers))
        if exc.status_code == 429:
            return "rate_limited", wait
        if exc.status_code >= 500:
            return "server_error", wait
        return "client_error", None
    if isinstance(exc, openai.APIConnectionError):
        return "connection", None
    return "bad_response", None


class LLMClient:
    def __init__(
        self,
        config: ClientConfig,
        breaker: Breaker,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.breaker = breaker
        self.sleep = sleep
        self.api = openai.AsyncOpenAI(
            api_key=config.api_key.get_secret_value(),
            base_url=config.base_url,
            max_retries=0,
            timeout=config.timeout_s,
        )

    async def complete(
        self,
        prompt: Prompt,
        *,
        max_tokens: int,
        temperature: float,
        deadline: float,
        request_id: str,
    ) -> Completion:
        """One logical call, retried within ``deadline`` (a ``time.monotonic()`` instant)."""
        attempts = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0.05:
                raise LLMUnavailable("deadline", attempts)
            if not self.breaker.allow():
                raise LLMUnavailable("breaker_open", attempts)
            attempts += 1
            headers = {
                "X-Rapport-Request-Id": request_id,
                "X-Rapport-Attempt": str(attempts),
                "Idempotency-Key": f"rapport-{request_id}",
            }
            metrics.REQUESTS.inc()
            started = time.monotonic()
            try:
                call = self._call(prompt, max_tokens, temperature, headers)
                text, usage = await asyncio.wait_for(call, min(self.config.timeout_s, left))
            except Exception as exc:
                metrics.REQUEST_SECONDS.observe(time.monotonic() - started)
                reason, wait = _classify(exc)
                metrics.ERRORS_BY_KIND[reason].inc()
                if reason == "client_error":
                    self.breaker.release()
                    raise LLMUnavailable(reason, attempts, repr(exc)[:200]) from exc
                self.breaker.failure()
                log.warning("LLM attempt %d for %s failed: %s", attempts, request_id, reason)
                delay = self._delay(attempts, wait)
                if attempts > self.config.max_retries or time.monotonic() + delay >= deadline:
                    raise LLMUnavailable(reason, attempts) from exc
                await self.sleep(delay)
                continue
            metrics.REQUEST_SECONDS.observe(time.monotonic() - started)
            self.breaker.success()
            return Completion(text, usage[0], usage[1], attempts)

    def _delay(self, attempts: int, server_wait: float | None) -> float:
        cap = self.config.backoff_max_s
        backoff = min(cap, self.config.backoff_s * 2.0 ** (attempts - 1)) * random.uniform(0.5, 1)
        return max(backoff, server_wait or 0.0)

    async def _call(
        self, prompt: Prompt, max_tokens: int, temperature: float, headers: dict[str, str]
    ) -> tuple[str, tuple[int, int]]:
        common: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": list(prompt.stop)[:4],
            "extra_headers": headers,
        }
        if prompt.style == "chat":
            chat = await self.api.chat.completions.create(
                messages=list(prompt.messages),  # type: ignore[arg-type]
                **common,
            )
            text = chat.choices[0].message.content
            usage = chat.usage
        else:
            done = await self.api.completions.create(prompt=prompt.text, **common)
            text = done.choices[0].text
            usage = done.usage
        if not isinstance(text, str):
            raise TypeError("completion without text")
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        return text, tokens

    async def close(self) -> None:
        await self.api.close()
