"""One draft for one request: neutralise, redact, prompt, call, restore, check.

The customer's texts are neutralised (injection attempts removed, flagged) and
redacted before the prompt is built, so nothing sent to the LLM carries raw PII;
the draft's placeholders are restored, then the guardrails run against the raw
context. When the LLM is unavailable, the breaker is open, the output is rejected,
or degraded mode sends a low-priority intent to a template, the draft comes from
:mod:`.templates` and is marked ``fallback``. Only redacted text is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agents.drafting.llm.client import LLMClient, LLMUnavailable
from agents.drafting.llm.guardrails import Guard, echoes_customer, neutralise, one_line
from agents.drafting.llm.prompts import Context, Feature, Policy, Prompt, Style, Turn, build
from agents.drafting.llm.redact import Redacted, Redactor
from agents.drafting.llm.templates import TEMPLATE_VERSION, fallback_text

log = logging.getLogger(__name__)
Mode = Literal["normal", "cheap"]
TEMPLATE_MODEL = "template"


@dataclass(frozen=True)
class DraftConfig:
    style: Style
    model: str
    policy: Policy
    max_tokens: int = 120
    cheap_max_tokens: int = 48
    temperature: float = 0.3
    deadline_s: float = 45.0
    low_priority: frozenset[str] = frozenset()
    cost_prompt_per_1k: float = 0.0
    cost_completion_per_1k: float = 0.0
    restore_contacts: bool = False
    """Put the customer's own contact details back into drafts (``redact.CONTACTS``)."""


@dataclass(frozen=True)
class Request:
    """What the drafter needs, in raw form (it redacts everything itself)."""

    request_id: str
    message: str
    intent: str | None = None
    kind: Literal["reply", "engagement"] = "reply"
    channel: str = "chat"
    segment: str | None = None
    churn_risk: float | None = None
    sentiment_trend: float | None = None
    features: Mapping[str, Feature] = field(default_factory=dict)
    turns: Sequence[Turn] = ()
    values: Mapping[str, str] = field(default_factory=dict)
    """What the placeholders already in ``message`` and ``turns`` stand for (a reply
    request is redacted before it is published)."""
    shots: Sequence[tuple[str, str]] = ()
    """Reviewer-edited replies to this customer's earlier messages (no identifiers)."""


@dataclass(frozen=True)
class Outcome:
    text: str
    model: str
    prompt_version: str
    latency_ms: float
    flags: tuple[str, ...]
    fallback: bool
    mode: Mode
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    attempts: int = 0
    sent_prompt: str = ""
    """The redacted prompt (what left the process), kept for audit until erasure."""


class Drafter:
    def __init__(
        self, client: LLMClient, redactor: Redactor, guard: Guard, config: DraftConfig
    ) -> None:
        self.client = client
        self.redactor = redactor
        self.guard = guard
        self.config = config

    def prepare(self, req: Request) -> tuple[Prompt, Redacted, list[str], str]:
        """The prompt (redacted, neutralised), the placeholder map, the input flags and
        the customer's message as the model saw it (what an echo is checked against)."""
        red = Redacted("", values=dict(req.values))
        flags: list[str] = []

        def clean(text: str) -> str:
            safe, found = neutralise(text)
            flags.extend(f for f in found if f not in flags)
            return one_line(self.redactor.redact(safe, red).text)

        turns = [Turn(t.role, clean(t.text)) for t in req.turns]
        message = clean(req.message) if req.message else ""
        if red.values:
            flags.append("pii_redacted")
        ctx = Context(
            message=message,
            intent=req.intent,
            kind=req.kind,
            channel=req.channel,
            segment=req.segment,
            churn_risk=req.churn_risk,
            sentiment_trend=req.sentiment_trend,
            features=req.features,
            turns=turns,
            shots=[(one_line(neutralise(q)[0]), one_line(neutralise(a)[0])) for q, a in req.shots],
        )
        return build(ctx, self.config.policy, self.config.style), red, flags, message

    async def draft(self, req: Request, mode: Mode = "normal") -> Outcome:
        started = time.monotonic()
        prompt, red, flags, seen = self.prepare(req)
        if mode == "cheap" and (req.intent or "other") in self.config.low_priority:
            return self.fallback(
                req, [*flags, "degraded"], mode=mode, started=started, prompt=prompt
            )
        max_tokens = self.config.cheap_max_tokens if mode == "cheap" else self.config.max_tokens
        try:
            done = await self.client.complete(
                prompt,
                max_tokens=max_tokens,
                temperature=self.config.temperature,
                deadline=started + self.config.deadline_s,
                request_id=req.request_id,
            )
        except LLMUnavailable as exc:
            log.warning("draft %s: LLM unavailable (%s); template used", req.request_id, exc.reason)
            return self.fallback(
                req, [*flags, f"llm_{exc.reason}"], mode=mode, started=started, prompt=prompt
            )
        unknown = red.unknown_placeholders(done.text)
        context = red.original("\n".join([req.message, *(t.text for t in req.turns)]))
        restored = red.restore(done.text, contacts=self.config.restore_contacts)
        checked = self.guard.check(restored, context=context, private=prompt.private)
        if echoes_customer(done.text, seen):
            checked.flag("customer_echo")
            checked.reject = True
        flags += checked.flags + (["unknown_placeholder"] if unknown else [])
        if mode == "cheap":
            flags.append("degraded")
        if checked.reject:
            log.warning("draft %s: output rejected (%s); template used", req.request_id, flags)
            return self.fallback(
                req, flags, mode=mode, started=started, prompt=prompt, attempts=done.attempts
            )
        cost = (
            done.prompt_tokens * self.config.cost_prompt_per_1k
            + done.completion_tokens * self.config.cost_completion_per_1k
        ) / 1000
        log.info("draft %s: %d tokens, flags %s", req.request_id, done.completion_tokens, flags)
        return Outcome(
            text=checked.text,
            model=self.config.model,
            prompt_version=prompt.version,
            latency_ms=_ms(started),
            flags=tuple(flags),
            fallback=False,
            mode=mode,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cost_usd=round(cost, 8),
            attempts=done.attempts,
            sent_prompt=prompt.sent_text(),
        )

    def fallback(
        self,
        req: Request,
        flags: Sequence[str],
        *,
        mode: Mode = "normal",
        started: float | None = None,
        prompt: Prompt | None = None,
        attempts: int = 0,
    ) -> Outcome:
        """The intent's template, marked fallback (nothing is sent anywhere)."""
        intent = "engagement" if req.kind == "engagement" else req.intent
        return Outcome(
            text=fallback_text(intent),
            model=TEMPLATE_MODEL,
            prompt_version=TEMPLATE_VERSION,
            latency_ms=_ms(started if started is not None else time.monotonic()),
            flags=tuple(dict.fromkeys([*flags, "fallback"])),
            fallback=True,
            mode=mode,
            attempts=attempts,
            sent_prompt=prompt.sent_text() if prompt and attempts else "",
        )


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
