"""The support console in a real headless browser (Debian's chromium, Playwright) against
a real worker on the real stack: sign in, a replayed inbound message's draft appears live
in the queue, edit and send it, reject another, the verdicts land in ClickHouse as
``draft_feedback`` rows (the edit redacted, a repeated click once), the customer 360
shows the same features as ``rapport features``, and a ``<script>`` in a message stays
text. ``RAPPORT_CONSOLE_SCREENSHOTS=DIR`` keeps screenshots of the pages."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from playwright.async_api import Page

from streams.core.tokens import new_token
from tests.integration.conftest import Scope
from tests.integration.test_drafting_worker import event, message, wire, worker_env
from tests.support.browser import chromium
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

__all__ = ["fault"]
SCRIPT = "<script>window.__pwned = 1</script>"
SHOTS = os.environ.get("RAPPORT_CONSOLE_SCREENSHOTS")


def sql(port: int, token: str, query: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/sql",
        data=orjson.dumps({"query": query, "format": "json"}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return [orjson.loads(line) for line in resp.read().splitlines() if line.strip()]


async def rows_until(port: int, token: str, query: str, n: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = sql(port, token, query)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


def cli_features(worker: WorkerProcess, token: str, customer: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "features", customer, "--json"],
        env={**os.environ, **worker.env, "RAPPORT_WEB_TOKEN": token},
        capture_output=True,
        check=True,
        timeout=60,
    )
    features: dict[str, Any] = json.loads(out.stdout)["features"]
    return features


async def shown_features(page: Page) -> dict[str, str]:
    cells = await page.locator("#features td[data-feature]").all()
    return {str(await c.get_attribute("data-feature")): str(await c.text_content()) for c in cells}


async def shot(page: Page, name: str) -> None:
    if SHOTS:  # the directory exists: the pages' screenshots go there
        await page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


async def test_console_review_in_a_browser(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.2)
    agent, agent_entry = new_token("agent")
    analyst, analyst_entry = new_token("analyst")
    tokens = f"{agent_entry},{analyst_entry}"
    worker = start_worker(**worker_env(fault, RAPPORT_WEB_TOKENS=tokens))
    base = f"http://127.0.0.1:{worker.port}"
    history = [
        event("page_view", "h1", "c-ann", 1, url="/pricing", session_id="s1"),
        event("order", "h2", "c-ann", 2, order_id="o-1", amount=42.5, currency="EUR"),
        event("rating", "h3", "c-ann", 3, score=2, comment="slow delivery"),
    ]
    first = message(
        "m1", "c-ann", "conv-ann", f"{SCRIPT} my card was declined, mail jane@example.com", at=10
    )
    second = message("m2", "c-bob", "conv-bob", "where is my order 55512345?", at=11)

    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base}/console")
        assert page.url.startswith(f"{base}/console/login"), page.url  # signed out: the sign-in
        await page.fill("input[name=token]", analyst)
        await page.click("button[type=submit]")
        assert "cannot open the console" in await page.inner_text("main")
        await page.fill("input[name=token]", agent)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#queue", state="attached")
        cookie = next(c for c in await page.context.cookies() if c["name"] == "rapport_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        await page.evaluate("window.__loaded = 'once'")  # gone if the page reloads

        await produce(scope.topic("interactions"), wire([*history, first, second]))
        for conv in ("conv-ann", "conv-bob"):  # pushed live: no reload
            await page.wait_for_selector(f'li.item[data-conversation="{conv}"]', timeout=90_000)
        assert await page.evaluate("window.__loaded") == "once"
        ann = page.locator('li.item[data-conversation="conv-ann"]')
        assert SCRIPT in await ann.locator("p.message").inner_text()  # shown as text
        assert "jane@example.com" not in await ann.inner_text()  # redacted as stored
        assert "LLM draft" in await ann.locator(".origin").inner_text()
        assert await page.evaluate("window.__pwned") is None
        await page.wait_for_timeout(6_000)  # the ops strip is pushed every 5 s
        assert await page.inner_text('[data-ops="breaker"]') == "closed"
        assert await page.inner_text('[data-ops="drafting"]') == "normal"
        await shot(page, "console-queue.png")

        # edit and send the first draft
        await ann.locator("a", has_text="conv-ann").click()
        await page.wait_for_selector("form.verdict")
        assert SCRIPT in await page.locator("section.card p.message").inner_text()
        assert await page.evaluate("window.__pwned") is None
        csrf = await page.locator("form.verdict input[name=csrf]").input_value()
        action = str(await page.locator("form.verdict").get_attribute("action"))
        edited = "Sorry about that! I re-sent the link; write to me at help.desk@example.org"
        await page.fill("textarea[name=final_text]", edited)
        await page.click("button[value=edited]")
        await page.wait_for_selector("p.notice")
        assert "edited: sent as feedback" in await page.inner_text("p.notice")
        again: dict[str, str | float | bool] = {
            "csrf": csrf,
            "verdict": "edited",
            "final_text": edited,
        }
        resp = await page.request.post(f"{base}{action}", form=again, max_redirects=0)
        assert resp.status == 303  # a repeated click: the same event id, dropped by ingest
        forged = await page.request.post(
            f"{base}{action}", form={**again, "csrf": "forged"}, max_redirects=0
        )
        assert forged.status == 403

        # reject the second one
        await page.goto(f"{base}/console/conversations/conv-bob")
        await page.click("button[value=rejected]")
        await page.wait_for_selector("p.notice")

        query = (
            "SELECT draft_id, verdict, final_text, agent_id FROM draft_feedback ORDER BY draft_id"
        )
        rows = await rows_until(worker.port, analyst, query, 2, timeout=60)
        await asyncio.sleep(3)  # a repeated click would land by now
        rows = sql(worker.port, analyst, query)
        assert [(r["draft_id"], r["verdict"]) for r in rows] == [
            ("draft-m1", "edited"),
            ("draft-m2", "rejected"),
        ]
        assert rows[0]["final_text"].startswith("Sorry about that! I re-sent the link")
        assert "help.desk@example.org" not in rows[0]["final_text"]  # redacted in ClickHouse
        assert rows[0]["agent_id"].startswith("agent-") and rows[1]["final_text"] == ""
        await page.goto(f"{base}/console")
        await page.wait_for_selector("#queue", state="attached")
        for conv in ("conv-ann", "conv-bob"):  # reviewed: out of the queue
            await page.wait_for_selector(
                f'li.item[data-conversation="{conv}"]', state="detached", timeout=30_000
            )

        # the customer 360: the same features as `rapport features`
        await page.goto(f"{base}/console/customers/c-ann")
        expected = cli_features(worker, agent, "c-ann")
        shown = await shown_features(page)
        assert shown == {k: str(v) for k, v in expected.items() if v is not None}
        assert int(shown["events"]) == 5  # the history, the message and the verdict
        sentiment = page.locator('tr[data-model="sentiment"]')
        assert await sentiment.count() == 1
        timeline = await page.inner_text("#timeline")
        assert SCRIPT in timeline and "order" in timeline
        assert await page.evaluate("window.__pwned") is None
        await shot(page, "console-customer.png")

        # signed out: the session is gone
        await page.click('form[action="/console/logout"] button')
        await page.wait_for_selector("#login")
        await page.goto(f"{base}/console")
        assert page.url.startswith(f"{base}/console/login")


async def test_an_open_console_signs_its_first_page_and_takes_the_verdict(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    """Without RAPPORT_WEB_TOKENS (a laptop) no sign-in: a conversation opened first
    still carries the CSRF token of the session it issues, and its verdict is sent."""
    fault.reset("ok", latency_s=0.1)
    worker = start_worker(**worker_env(fault))
    base = f"http://127.0.0.1:{worker.port}"
    await produce(scope.topic("interactions"), wire([message("o1", "c-o", "conv-o", "hello?")]))
    await collect(scope.topic("drafted_replies"), 1, timeout=60)
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{base}/console/conversations/conv-o")  # no queue page before
        assert await page.locator("form.verdict input[name=csrf]").input_value()
        await page.click("button[value=accepted]")
        await page.wait_for_selector("p.notice")
        assert "accepted: sent as feedback" in await page.inner_text("p.notice")
