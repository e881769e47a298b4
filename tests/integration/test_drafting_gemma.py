"""A real draft from the local llama.cpp server (Gemma 3 270M, a base model prompted
few-shot) for real Bitext messages, checked by the guardrails."""

from __future__ import annotations

import statistics
from itertools import islice

import pytest

from agents.drafting.build import build_drafter, request_of
from agents.drafting.llm.guardrails import Guard
from agents.drafting.llm.redact import PLACEHOLDER
from online_models.evaluate.data import locate
from schemas.published import ReplyRequest
from streams.cli.evaluate_drafts import bitext_samples, evaluate_drafts
from streams.core.settings import Settings
from streams.replay.datasets import bitext

pytestmark = pytest.mark.llm


def bitext_requests(n: int) -> list[ReplyRequest]:
    """The first ``n`` Bitext messages that carry an order or invoice number, as requests."""
    out = []
    for record in islice(bitext(seed=0), 4000):
        ev = record.event
        if ev["type"] == "message" and any(ch.isdigit() for ch in ev["text"]):
            out.append(
                ReplyRequest(
                    request_id=ev["event_id"],
                    customer_id=ev["customer_id"],
                    conversation_id=ev["conversation_id"],
                    message_event_id=ev["event_id"],
                    text=ev["text"],
                    channel=ev["channel"],
                    intent=None,
                    occurred_at=ev["occurred_at"],
                )
            )
        if len(out) == n:
            break
    return out


async def test_gemma_drafts_a_real_bitext_message(stack: Settings) -> None:
    settings = Settings(
        _env_file=None,
        llm_base_url=stack.llm_base_url,
        llm_timeout_s=30.0,
        drafting_deadline_s=60.0,
        drafting_temperature=0.0,
        drafting_policy=["Refunds are issued within 5 business days of approval."],
    )
    drafter = build_drafter(settings)
    for req in bitext_requests(2):
        prompt, red, _, _ = drafter.prepare(request_of(req, {}))
        assert red.values, "the Bitext number should be redacted"
        assert all(v not in prompt.text for v in red.values.values())
        out = await drafter.draft(request_of(req, {}))
        print(f"\n{req.text!r}\n -> {out.text!r} {out.flags} {out.latency_ms:.0f} ms")
        assert out.attempts == 1 and out.prompt_tokens > 0 and out.completion_tokens > 0
        assert not any(f.startswith("llm_") for f in out.flags)
        assert out.model == "gemma-3-270m" and out.prompt_version.startswith("completion-v1+")
        assert out.text and not PLACEHOLDER.search(out.text)
        if not out.fallback:
            again = Guard().check(out.text, context=req.text, private=prompt.private)
            assert again.flags == [] and again.text == out.text
            assert "business days" not in out.text or "business days" in req.text


async def test_drafts_are_scored_against_bitext_references(stack: Settings) -> None:
    """``rapport evaluate --drafts``: every utterance ends in one scored draft, and the
    drafts are closer to their own reference response than to another intent's."""
    settings = Settings(
        _env_file=None,
        llm_base_url=stack.llm_base_url,
        llm_timeout_s=30.0,
        drafting_deadline_s=60.0,
        drafting_temperature=0.0,
    )
    samples, sim = bitext_samples(locate("bitext", None), 12, seed=5)
    report = await evaluate_drafts(build_drafter(settings), samples, sim)
    assert len(report.template) == len(report.other_reference) == len(samples) == 12
    assert len(report.llm) + report.fallbacks == 12
    assert len(report.llm) >= 6, "most drafts should come from the LLM, not templates"
    assert all(0.0 <= v <= 1.0 for v in [*report.llm, *report.template])
    assert statistics.mean(report.llm) > statistics.mean(report.llm_other)
    assert any("drafts vs Bitext reference responses" in line for line in report.lines())
