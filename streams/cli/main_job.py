"""The main job (README command 1): stack up, a worker, a replay of real data, a live view."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table

from streams.cli.main_job_answers import print_answers, print_flow
from streams.cli.main_job_drain import DrainProgress, DrainResult, Snapshot, drain, snapshot
from streams.cli.main_job_tail import Tail
from streams.cli.models import build_warm_start
from streams.core.settings import Settings
from streams.core.tokens import new_token
from streams.replay import timed_records
from streams.replay.datasets import TWEETS_PATH
from streams.replay.produce import produce_records
from streams.stack import control
from streams.stack.procs import stop_child
from streams.stack.worker import start_worker
from streams.topics import consumed_roles, create_topics


@dataclass
class View:
    """What the live view shows; written by the replay and the poller."""

    produced: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    rate: float = 0.0
    started: float = field(default_factory=time.monotonic)
    tail: Tail | None = None

    def table(self) -> Table:
        m = self.metrics
        consumed = m.get("in:ingest", 0.0)
        table = Table(title="Rapport: events flowing", show_header=False)
        table.add_row("replayed to interactions", f"{self.produced:,}")
        table.add_row("consumed by ingest", f"{consumed:,.0f}  ({self.rate:,.0f}/s)")
        table.add_row("forwarded to events", f"{m.get('out:events', 0):,.0f}")
        table.add_row("dead-lettered", f"{m.get('out:dlq', 0):,.0f}")
        table.add_row("duplicates dropped", f"{m.get('duplicates', 0):,.0f}")
        table.add_row("consumer lag (messages)", f"{m.get('lag', 0):,.0f}")
        table.add_row("elapsed", f"{time.monotonic() - self.started:.1f}s")
        if self.tail is not None:
            table.add_row("insights published", f"{self.tail.insights_seen:,}")
            for line in self.tail.insights:
                table.add_row("", line)
            table.add_row("drafts published", f"{self.tail.drafts_seen:,}")
            for line in self.tail.drafts:
                table.add_row("", line)
        return table


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "rapport_events_in_total":
                out[f"in:{sample.labels['agent']}"] = sample.value
            elif sample.name == "rapport_events_out_total":
                key = f"out:{sample.labels['topic']}"
                out[key] = out.get(key, 0.0) + sample.value
            elif sample.name == "rapport_duplicates_dropped_total":
                out["duplicates"] = sample.value
            elif sample.name == "rapport_consumer_lag_messages":
                out["lag"] = out.get("lag", 0.0) + sample.value
            elif sample.name == "rapport_dead_letters_total":
                out[f"dlq:{sample.labels['reason_code']}"] = sample.value
    return out


def _run_prefix() -> str:
    """Distinct event ids per run, so running the job again flows again (not deduplicated)."""
    return datetime.now(UTC).strftime("run%Y%m%dT%H%M%S-")


def _poll(view: View, port: int, stop: threading.Event) -> None:
    last, last_t = 0.0, time.monotonic()
    while not stop.wait(0.5):
        try:
            view.metrics = scrape(port)
        except OSError:
            continue
        now, consumed = time.monotonic(), view.metrics.get("in:ingest", 0.0)
        if consumed == last:
            continue  # idle: keep showing the last measured rate
        view.rate = (consumed - last) / max(1e-6, now - last_t)
        last, last_t = consumed, now


def run_main_job(settings: Settings, args: argparse.Namespace) -> int:
    """0 when the worker's group processed everything replayed (lag 0 on every topic it
    reads but those drafting writes at the LLM's pace) and ingest consumed every replayed
    event; 1 otherwise (no answers printed when the group did not drain)."""
    # Ctrl-C stops the job (exit 130) even when started from a shell that ignores SIGINT
    # for its background jobs (the ignore is inherited, and Python then keeps it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    console = Console()
    console.print("[bold]1/3[/] local stack")
    control.up(settings)
    for row in control.status(settings):
        console.print(f"    {'up  ' if row.ok else 'DOWN'} {row.name:<18} {row.detail}")
    if settings.models_warm_start and not settings.warm_start_file.is_file():
        console.print(f"    {build_warm_start(settings)}")  # once: the text models' prior
    prefix = args.id_prefix or _run_prefix()
    console.print(
        f"[bold]2/3[/] worker on :{settings.web_port} (log {settings.data_dir / 'worker.log'})"
    )
    asyncio.run(create_topics(settings))
    roles = consumed_roles(settings)
    # the LLM drafts a request in a second or more: the drain waits for everything else,
    # then reports the drafting backlog (the worker drafts it whenever it runs)
    paced = ("reply_requests", "drafted_replies")
    topics = [settings.topic_name(role) for role in roles if role not in paced]
    requests = [settings.topic_name("reply_requests")] if "reply_requests" in roles else []
    base = asyncio.run(snapshot(settings, topics + requests))  # processed before
    settings, agent_token = signed_in(settings)
    worker = start_worker(settings)
    console.print(f"    support console: {console_link(settings, agent_token)}")
    view, stop = View(tail=Tail(settings)), threading.Event()
    poller = threading.Thread(target=_poll, args=(view, settings.web_port, stop), daemon=True)
    try:
        console.print(
            f"[bold]3/3[/] replaying {args.source} ({args.limit} per source, ids {prefix}*), "
            f"then waiting up to {args.drain_timeout:.0f}s (--drain-timeout) for the group "
            f"{settings.app_id} to process it all (lag 0 on {len(topics)} topics)"
        )
        poller.start()
        if view.tail is not None:
            view.tail.start()
        produced, rate, result = _replay(
            console, settings, args, view, prefix=prefix, watch=_Drain(topics, base, worker)
        )
        with contextlib.suppress(OSError):
            view.metrics = scrape(settings.web_port)  # the final count, not the last poll's
        flowed = print_flow(console, view.metrics, produced, rate)
        if not result.drained:
            _print_not_drained(console, result, worker, args.drain_timeout, settings)
            return 1
        processed = result.last.processed_since(base, settings.topic_name("interactions"))
        console.print(
            f"all {processed:,} events processed (lag 0): replayed {produced:,}; "
            f"{result.last.processed_since(base):,} records on {len(topics)} topics "
            f"in {result.seconds:.1f}s after the replay"
        )
        if requests:
            _print_drafting(console, asyncio.run(snapshot(settings, requests)), base)
        print_answers(console, settings, drafts_wait_s=150.0)
    finally:
        stop.set()
        if view.tail is not None:
            view.tail.stop()
        if not args.keep_worker:
            stop_child(worker)
    if not flowed:
        console.print("[red]events did not flow: ingest consumed fewer events than replayed[/]")
        return 1
    return 0


def signed_in(settings: Settings) -> tuple[Settings, str | None]:
    """Without ``RAPPORT_WEB_TOKENS``, tokens made for this run: an agent's for the console
    (returned) and an analyst's the job's own answers send; the worker keeps their hashes."""
    if settings.web_tokens is not None:
        return settings, None
    agent, agent_entry = new_token("agent")
    analyst, analyst_entry = new_token("analyst")
    update = {
        "web_tokens": SecretStr(f"{agent_entry},{analyst_entry}"),
        "web_token": SecretStr(analyst),
    }
    return settings.model_copy(update=update), agent


def console_link(settings: Settings, agent_token: str | None) -> str:
    """The sign-in link: the token rides in the fragment, which no server or log sees."""
    url = f"http://127.0.0.1:{settings.web_port}/console/login"
    if agent_token is None:
        return f"{url} (sign in with an agent token of RAPPORT_WEB_TOKENS)"
    return f"{url}#token={agent_token} (an agent token made for this run)"


@dataclass(frozen=True)
class _Drain:
    """What the drain after the replay watches: the group's topics from ``base``, and the
    worker that processes them."""

    topics: list[str]
    base: Snapshot
    worker: subprocess.Popen[bytes]


def _print_not_drained(
    console: Console,
    result: DrainResult,
    worker: subprocess.Popen[bytes],
    timeout_s: float,
    settings: Settings,
) -> None:
    why = (
        f"the worker exited with code {worker.returncode} after {result.seconds:.0f}s"
        if worker.poll() is not None
        else f"not drained after {result.seconds:.0f}s (--drain-timeout {timeout_s:.0f})"
    )
    console.print(f"[red]{why}: group {settings.app_id} still lags {result.last.lag:,} records[/]")
    console.print(f"    {result.last.lag_text(settings.topic_prefix)}")
    console.print(
        "[red]the analyst answers would describe part of the data, so they are not printed[/]"
        f" (see {settings.data_dir / 'worker.log'})"
    )


def _print_drafting(console: Console, now: Snapshot, base: Snapshot) -> None:
    """How far drafting got: the requests drafted since the start, and those waiting."""
    done, waiting = now.processed_since(base), now.lag
    console.print(
        f"drafting: {done:,} reply requests drafted during the run, {waiting:,} waiting for "
        "the LLM (drafting runs at the LLM's pace, beside the pipeline; the worker drafts "
        "the rest whenever it runs)"
    )


class _Quiet:
    """Stands in for the live view with --quiet: the table is printed once, at the end."""

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, renderable: RenderableType) -> None:
        return None


def _replay(
    console: Console,
    settings: Settings,
    args: argparse.Namespace,
    view: View,
    *,
    prefix: str,
    watch: _Drain,
) -> tuple[int, float, DrainResult]:
    """Replay the sources, then wait (up to ``--drain-timeout``) until the worker's group
    has processed everything (:mod:`streams.cli.main_job_drain`), with a progress bar."""
    stamp_live = bool(args.now and args.rate)
    records = timed_records(
        _available(console, args.source.split(","), args.tweets),
        seed=args.seed,
        limit=args.limit,
        tweets_path=args.tweets,
        now=datetime.now(UTC).replace(microsecond=0) if args.now else None,
        live=stamp_live,
    )
    plain = args.quiet or not console.is_terminal
    progress = DrainProgress(console, watch.base, plain=plain, prefix=settings.topic_prefix)
    live: Live | _Quiet = (
        _Quiet() if args.quiet else Live(view.table(), console=console, refresh_per_second=4)
    )
    with live:

        def replayed(n: int) -> None:
            view.produced = n
            live.update(view.table())

        stats = asyncio.run(
            produce_records(
                settings,
                records,
                rate=args.rate,
                id_prefix=prefix,
                progress=replayed,
                live=stamp_live,
            )
        )
        if plain:
            console.print(f"    replayed {stats.produced:,}; waiting for lag 0")

        def polled(snap: Snapshot) -> None:
            progress.update(snap)
            live.update(Group(view.table(), progress.renderable()))

        result = asyncio.run(
            drain(
                settings,
                watch.topics,
                timeout_s=args.drain_timeout,
                on_poll=polled,
                alive=lambda: watch.worker.poll() is None,
            )
        )
        if plain:
            console.print(progress.line(result.last))
    if args.quiet:
        console.print(view.table())
    return stats.produced, stats.rate, result


def _available(console: Console, names: list[str], tweets: str | None) -> list[str]:
    """Tweets.csv is non-commercial and never vendored: skip it, saying so, when absent."""
    path = Path(tweets) if tweets else TWEETS_PATH
    if "tweets" in names and not path.exists():
        console.print(f"    [yellow]skipping tweets: {path} not found (pass --tweets PATH)[/]")
        return [n for n in names if n != "tweets"]
    return names
