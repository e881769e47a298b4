"""The LLM client, breaker and fallback against a fault-injecting OpenAI-compatible server:
bounded attempts, Retry-After honoured, timeouts, unreadable bodies, the breaker opening
and half-opening, and exactly one outcome per request."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from agents.drafting.build import build_drafter
from agents.drafting.llm.degrade import Degrader
from tests.support.drafting import drafter_for, fault, request, settings_for
from tests.support.fault_llm import FaultLLM
from tests.support.workers import free_port

__all__ = ["fault"]


async def test_a_healthy_server_gives_an_llm_draft(fault: FaultLLM) -> None:
    fault.reset("ok")
    out = await drafter_for(fault).draft(request("ok-1"))
    assert not out.fallback and out.attempts == 1
    assert out.text.startswith("I'm sorry for the trouble")
    assert (out.prompt_tokens, out.completion_tokens) == (42, 17)
    assert out.prompt_version.startswith("completion-v1+") and out.model == "gemma-3-270m"


async def test_429_waits_the_retry_after_then_succeeds(fault: FaultLLM) -> None:
    fault.reset("ok", retry_after="1")
    fault.plan["r429"] = ["429", "ok"]
    started = time.monotonic()
    out = await drafter_for(fault).draft(request("r429"))
    calls = fault.attempts("r429")
    assert [c.behaviour for c in calls] == ["429", "ok"]
    assert calls[1].at - calls[0].at >= 0.95  # Retry-After 1 s beats the 0.05 s backoff
    assert not out.fallback and out.attempts == 2
    assert time.monotonic() - started < 3


async def test_retry_after_past_the_deadline_gives_up_at_once(fault: FaultLLM) -> None:
    fault.reset("429", retry_after="60")
    started = time.monotonic()
    out = await drafter_for(fault).draft(request("r429-long"))
    assert len(fault.attempts("r429-long")) == 1
    assert out.fallback and "llm_rate_limited" in out.flags
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("500", "llm_server_error"),
        ("503", "llm_server_error"),
        ("hang", "llm_timeout"),
        ("slow_stream", "llm_timeout"),
        ("invalid_json", "llm_bad_response"),
        ("truncated", None),
    ],
)
async def test_failures_are_retried_a_bounded_number_of_times(
    fault: FaultLLM, behaviour: str, reason: str | None
) -> None:
    fault.reset(behaviour, hang_s=5.0)
    rid = f"fail-{behaviour}"
    started = time.monotonic()
    out = await drafter_for(fault, llm_timeout_s=0.5, llm_max_retries=2).draft(request(rid))
    elapsed = time.monotonic() - started
    assert len(fault.attempts(rid)) == 3  # 1 + llm_max_retries, never more
    assert out.fallback and out.attempts == 0 and out.model == "template"
    assert reason is None or reason in out.flags, out.flags
    assert any(f.startswith("llm_") for f in out.flags)
    assert elapsed < 3 * 0.5 + 1.5  # each attempt cut at the per-call timeout


async def test_the_deadline_bounds_a_request_whatever_the_retries(fault: FaultLLM) -> None:
    fault.reset("hang", hang_s=5.0)
    started = time.monotonic()
    out = await drafter_for(
        fault, llm_timeout_s=1.0, llm_max_retries=10, drafting_deadline_s=1.5
    ).draft(request("deadline"))
    assert time.monotonic() - started < 2.2
    assert out.fallback and len(fault.attempts("deadline")) <= 2


async def test_4xx_is_not_retried_and_leaves_the_breaker_closed(fault: FaultLLM) -> None:
    fault.reset("400")
    drafter = drafter_for(fault, drafting_breaker_failures=1)
    out = await drafter.draft(request("r400"))
    assert out.fallback and "llm_client_error" in out.flags
    assert len(fault.attempts("r400")) == 1
    assert drafter.client.breaker.state == "closed"


async def test_breaker_opens_refuses_then_half_opens_one_trial(fault: FaultLLM) -> None:
    fault.reset("500")
    drafter = drafter_for(
        fault, llm_max_retries=0, drafting_breaker_failures=3, drafting_breaker_reset_s=1.0
    )
    for i in range(3):
        out = await drafter.draft(request(f"b-{i}"))
        assert "llm_server_error" in out.flags
    assert drafter.client.breaker.state == "open"
    refused = await drafter.draft(request("b-refused"))
    assert refused.fallback and "llm_breaker_open" in refused.flags
    assert fault.attempts("b-refused") == []  # no call while open
    assert refused.latency_ms < 50

    await asyncio.sleep(1.05)
    fault.reset("ok", latency_s=0.3)
    trial, other = await asyncio.gather(
        drafter.draft(request("b-trial")), drafter.draft(request("b-other"))
    )
    outcomes = sorted([trial.fallback, other.fallback])
    assert outcomes == [False, True]  # one trial call in half-open; the other is refused
    assert len(fault.calls) == 1
    assert drafter.client.breaker.state == "closed"  # type: ignore[comparison-overlap]
    after = await drafter.draft(request("b-after"))
    assert not after.fallback


async def test_a_failed_trial_reopens_the_breaker(fault: FaultLLM) -> None:
    fault.reset("500")
    drafter = drafter_for(
        fault, llm_max_retries=0, drafting_breaker_failures=1, drafting_breaker_reset_s=0.3
    )
    await drafter.draft(request("t-0"))
    assert drafter.client.breaker.state == "open"
    await asyncio.sleep(0.35)
    out = await drafter.draft(request("t-1"))
    assert out.fallback and len(fault.attempts("t-1")) == 1
    assert drafter.client.breaker.state == "open" and drafter.client.breaker.opened == 2


async def test_every_request_ends_in_exactly_one_outcome_under_mixed_faults(
    fault: FaultLLM,
) -> None:
    fault.reset("ok", hang_s=3.0, retry_after="0")
    behaviours = ["ok", "500", "429", "hang", "invalid_json", "truncated", "ok", "503"] * 3
    for i, b in enumerate(behaviours):
        fault.plan[f"mix-{i}"] = [b]
    drafter = drafter_for(fault, llm_timeout_s=0.4, llm_max_retries=1)
    outs = await asyncio.gather(*(drafter.draft(request(f"mix-{i}")) for i in range(24)))
    assert len(outs) == 24
    for i, out in enumerate(outs):
        assert out.fallback == (behaviours[i] != "ok"), (i, behaviours[i], out.flags)
        assert len(fault.attempts(f"mix-{i}")) <= 2


async def test_an_unreachable_server_falls_back_quickly() -> None:
    drafter = build_drafter(
        settings_for(f"http://127.0.0.1:{free_port()}/v1", drafting_breaker_failures=3)
    )
    started = time.monotonic()
    outs = [await drafter.draft(request(f"down-{i}")) for i in range(10)]
    assert all(o.fallback for o in outs)
    assert "llm_connection" in outs[0].flags and "llm_breaker_open" in outs[-1].flags
    assert time.monotonic() - started < 2.0


async def test_cheap_mode_shortens_outputs_and_templates_low_priority_intents(
    fault: FaultLLM,
) -> None:
    fault.reset("ok")
    drafter = drafter_for(
        fault,
        drafting_max_tokens=120,
        drafting_cheap_max_tokens=32,
        drafting_low_priority_intents=["review"],
    )
    normal = await drafter.draft(request("cm-1", intent="track_order"), "normal")
    cheap = await drafter.draft(request("cm-2", intent="track_order"), "cheap")
    low = await drafter.draft(request("cm-3", "here is my review", intent="review"), "cheap")
    bodies = {c.request_id: orjson.loads(c.body) for c in fault.calls}
    assert bodies["cm-1"]["max_tokens"] == 120 and bodies["cm-2"]["max_tokens"] == 32
    assert not normal.fallback and normal.mode == "normal"
    assert not cheap.fallback and cheap.mode == "cheap" and "degraded" in cheap.flags
    assert "cm-3" not in bodies  # low priority under lag: a template, no LLM call
    assert low.fallback and low.mode == "cheap" and "degraded" in low.flags


def test_degradation_switches_on_lag_and_back_with_hysteresis() -> None:
    degrader = Degrader(degrade_at=50, recover_at=10)
    lags = [0, 20, 49, 50, 70, 30, 11, 10, 5, 60]
    modes = [degrader.observe(0, lag) for lag in lags]
    assert modes == [
        "normal", "normal", "normal", "cheap", "cheap", "cheap", "cheap", "normal", "normal",
        "cheap",
    ]  # fmt: skip
    assert degrader.switches == 3
    degrader.forget({0})
    assert degrader.lag == 0 and degrader.observe(1, 0) == "normal"
