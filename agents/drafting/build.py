"""Build the drafter from settings, and the drafter's view of a reply request."""

from __future__ import annotations

from typing import Any

from agents.drafting.llm.breaker import Breaker
from agents.drafting.llm.client import ClientConfig, LLMClient
from agents.drafting.llm.drafter import DraftConfig, Drafter, Request
from agents.drafting.llm.guardrails import Guard
from agents.drafting.llm.prompts import Policy, Turn
from agents.drafting.llm.redact import Redactor
from schemas.published import ReplyRequest
from streams.core.settings import DraftingSettings


def build_drafter(s: DraftingSettings) -> Drafter:
    client = LLMClient(
        ClientConfig(
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=s.llm_api_key,
            timeout_s=min(s.llm_timeout_s, s.drafting_deadline_s),
            max_retries=s.llm_max_retries,
            backoff_s=s.drafting_backoff_s,
            backoff_max_s=s.drafting_backoff_max_s,
        ),
        Breaker(s.drafting_breaker_failures, s.drafting_breaker_reset_s),
    )
    redactor = redactor_of(s)
    guard = Guard(
        allow_domains=tuple(s.drafting_allowed_domains),
        allow_phones=tuple(s.drafting_allowed_phones),
        region=s.drafting_phone_region,
    )
    config = DraftConfig(
        style=s.drafting_style,
        model=s.llm_model,
        policy=Policy(s.drafting_tone, tuple(s.drafting_policy)),
        max_tokens=s.drafting_max_tokens,
        cheap_max_tokens=s.drafting_cheap_max_tokens,
        temperature=s.drafting_temperature,
        deadline_s=s.drafting_deadline_s,
        low_priority=frozenset(s.drafting_low_priority_intents),
        cost_prompt_per_1k=s.drafting_cost_prompt_per_1k_usd,
        cost_completion_per_1k=s.drafting_cost_completion_per_1k_usd,
        restore_contacts=s.drafting_restore_contacts,
    )
    return Drafter(client, redactor, guard, config)


def redactor_of(s: DraftingSettings) -> Redactor:
    """The redactor of the settings (the reply-request agent and the drafter share it)."""
    return Redactor(s.drafting_redact_identifiers, region=s.drafting_phone_region)


def request_of(
    req: ReplyRequest,
    features: dict[str, Any],
    values: dict[str, str] | None = None,
    shots: list[tuple[str, str]] | None = None,
) -> Request:
    """The drafter's input: the request with the customer's current features and what
    its placeholders stand for."""
    trend = features.get("sentiment_trend")
    churn = req.churn_risk if req.churn_risk is not None else features.get("churn_risk")
    return Request(
        request_id=req.request_id,
        message=req.text,
        intent=req.intent,
        kind=req.kind,
        channel=req.channel,
        segment=req.segment,
        churn_risk=float(churn) if isinstance(churn, int | float) else None,
        sentiment_trend=float(trend) if isinstance(trend, int | float) else None,
        features=features,
        turns=[Turn(t.role, t.text) for t in req.turns],
        values=values or {},
        shots=shots or [],
    )
