"""The local stack: every service answers with the version it reports itself."""

from __future__ import annotations

import openai

from streams.core.settings import Settings
from streams.stack import control


def test_status_reports_each_service_with_its_version(stack: Settings) -> None:
    rows = {row.name: row for row in control.status(stack)}
    assert set(rows) == {"kafka", "redis", "llm", "clickhouse (chDB)"}
    assert all(row.ok for row in rows.values()), rows
    assert "metadata.version 4." in rows["kafka"].detail
    assert rows["redis"].detail.startswith("redis_version ")
    assert stack.llm_model in rows["llm"].detail
    assert rows["clickhouse (chDB)"].detail.startswith("engine ")


def test_up_twice_starts_no_second_copy(stack: Settings) -> None:
    pids = {name: svc.process.pid() for name, svc in control.services(stack).items()}
    assert control.up(stack) == []
    again = {name: svc.process.pid() for name, svc in control.services(stack).items()}
    assert again == pids


def test_llm_server_completes_a_few_shot_prompt(stack: Settings) -> None:
    client = openai.OpenAI(
        base_url=stack.llm_base_url, api_key=stack.llm_api_key.get_secret_value(), timeout=60
    )
    prompt = (
        "Customer: Where is my parcel?\nAgent: I am sorry for the delay, let me check.\n"
        "Customer: I want to cancel my order.\nAgent:"
    )
    result = client.completions.create(
        model=stack.llm_model, prompt=prompt, max_tokens=24, temperature=0.0
    )
    assert result.choices[0].text.strip()
    assert result.usage is not None and result.usage.completion_tokens > 0
