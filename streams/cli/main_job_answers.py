"""The main job's closing output: what flowed, then the analyst queries, the latest
insights and a few drafts.

Asked through the running worker's ``/sql`` endpoint (chDB allows one process per path),
after the pipeline had time to write: the README's example queries, the newest insights
and the newest drafted replies (stored redacted; every one is pending review).
"""

from __future__ import annotations

import json
import time
from typing import Final, Literal

from rich.console import Console

from sinks.base import SinkError
from sinks.clickhouse.queries import EXAMPLES
from streams.cli.sql import ask_worker, client_token, render_table, worker_url
from streams.core.settings import Settings

SHOWN: Final = ("volume_by_channel", "sentiment_mix", "churn_risk", "satisfaction")
INSIGHTS: Final = (
    "SELECT occurred_at, customer_id, model, prediction, round(confidence, 3) AS confidence "
    "FROM insights ORDER BY produced_at DESC, insight_id LIMIT 8"
)
DRAFTS: Final = (
    "SELECT created_at, customer_id, fallback, flags, substring(text, 1, 200) AS draft "
    "FROM drafts ORDER BY fallback, created_at DESC, draft_id LIMIT 3"
)
"""The newest drafts, the LLM's before template fallbacks (a worker saturating a small
machine starves the local LLM at first: its calls time out and the breaker opens)."""
TIMEOUT_S: Final = 30.0


Rows = Literal["insights", "drafts", "drafts WHERE NOT fallback"]
"""What ``wait_for_rows`` counts: a table, or a table and a filter (fixed strings)."""


def _count(url: str, rows: Rows, token: str | None) -> int:
    query = f"SELECT count() AS n FROM {rows}"  # noqa: S608 - fixed strings
    answer = ask_worker(url, query, "json", TIMEOUT_S, token)
    first = answer.decode().splitlines()[0] if answer.strip() else "{}"
    return int(json.loads(first).get("n", 0))


def wait_for_rows(url: str, rows: Rows, wait_s: float, token: str | None = None) -> int:
    """The count of ``rows`` once there are some, or after ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    n = 0
    while time.monotonic() < deadline:
        try:
            n = _count(url, rows, token)
        except SinkError:
            n = 0
        if n:
            return n
        time.sleep(1.0)
    return n


def print_answers(console: Console, settings: Settings, *, drafts_wait_s: float) -> None:
    """Print the example answers, the latest insights and drafts; never raises SinkError."""
    url, token = worker_url(settings), client_token(settings)
    try:
        wait_for_rows(url, "insights", 30.0, token)
        for name in SHOWN:
            title, query = EXAMPLES[name]
            console.print(f"[bold]-- {title}[/]  (rapport sql --examples: {name})")
            render_table(ask_worker(url, query, "table", TIMEOUT_S, token), console)
        console.print("[bold]-- latest insights[/]")
        render_table(ask_worker(url, INSIGHTS, "table", TIMEOUT_S, token), console)
        if settings.drafting_enabled:
            if not wait_for_rows(url, "drafts WHERE NOT fallback", drafts_wait_s, token):
                console.print("[yellow]no LLM draft yet: only template fallbacks so far[/]")
            console.print("[bold]-- latest drafted replies (pending review, stored redacted)[/]")
            render_table(ask_worker(url, DRAFTS, "table", TIMEOUT_S, token), console)
    except SinkError as exc:
        console.print(f"[yellow]analyst answers unavailable: {exc}[/]")


def print_flow(console: Console, metrics: dict[str, float], produced: int, rate: float) -> bool:
    """Print what flowed; True when ingest consumed every replayed event (and some at all)."""
    consumed = int(metrics.get("in:ingest", 0.0))
    lost = max(0, produced - consumed)
    console.print(
        f"replayed {produced:,} events at {rate:,.0f} events/s; "
        f"consumed {consumed:,} by ingest; lost {lost:,}"
    )
    reasons = {k[4:]: v for k, v in metrics.items() if k.startswith("dlq:")}
    for code, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  dead letters [{code}]: {count:,.0f}")
    return consumed > 0 and lost == 0
