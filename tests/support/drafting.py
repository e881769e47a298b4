"""Helpers of the drafting tests: a drafter on given settings, a fault server fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agents.drafting.build import build_drafter
from agents.drafting.llm.drafter import Drafter, Request
from streams.core.settings import Settings
from tests.support.fault_llm import FaultLLM


def settings_for(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_base_url": base_url,
        "llm_timeout_s": 1.0,
        "llm_max_retries": 2,
        "drafting_deadline_s": 8.0,
        "drafting_backoff_s": 0.05,
        "drafting_backoff_max_s": 0.2,
        "drafting_breaker_failures": 100,
        "drafting_breaker_reset_s": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def drafter_for(fault: FaultLLM, **overrides: Any) -> Drafter:
    return build_drafter(settings_for(fault.base_url, **overrides))


def request(rid: str, text: str = "where is my order 12345678?", **fields: Any) -> Request:
    return Request(
        request_id=rid, message=text, intent=fields.pop("intent", "track_order"), **fields
    )


@pytest.fixture(scope="module")
def fault() -> Iterator[FaultLLM]:
    server = FaultLLM().start()
    yield server
    server.stop()
