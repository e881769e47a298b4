"""The main job (README command 1): stack up, a worker, a replay of real data, a live view."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.live import Live
from rich.table import Table

from streams.cli_jobs import source_records
from streams.errors import StackError
from streams.main_job_answers import print_answers
from streams.replay.datasets import TWEETS_PATH
from streams.replay.produce import produce_records
from streams.settings import Settings
from streams.stack import control
from streams.stack.procs import port_open


@dataclass
class View:
    """What the live view shows; written by the replay and the poller."""

    produced: int = 0
    done: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    rate: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def table(self) -> Table:
        m = self.metrics
        consumed = m.get("in:ingest", 0.0)
        table = Table(title="Rapport: events flowing", show_header=False)
        table.add_row("replayed to interactions", f"{self.produced:,}")
        table.add_row("consumed by ingest", f"{consumed:,.0f}  ({self.rate:,.0f}/s)")
        table.add_row("forwarded to events", f"{m.get('out:events', 0):,.0f}")
        table.add_row("dead-lettered", f"{m.get('out:dlq', 0):,.0f}")
        table.add_row("duplicates dropped", f"{m.get('duplicates', 0):,.0f}")
        table.add_row("lag (messages)", f"{max(0.0, self.produced - consumed):,.0f}")
        table.add_row("elapsed", f"{time.monotonic() - self.started:.1f}s")
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
            elif sample.name == "rapport_dead_letters_total":
                out[f"dlq:{sample.labels['reason_code']}"] = sample.value
    return out


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    if port_open(settings.web_host, settings.web_port, timeout=1.0):
        # another worker would answer our readiness probe: refuse instead of trusting it
        msg = (
            f"web port {settings.web_host}:{settings.web_port} is taken by another process "
            "(a worker still running?): stop it or set RAPPORT_WEB_PORT"
        )
        raise StackError(msg)
    log_path = settings.data_dir / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **settings.to_env()},
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"the worker exited with {proc.returncode}; see {log_path}"
            raise StackError(msg)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/ready", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    msg = f"the worker was not ready within 180s; see {log_path}"
    raise StackError(msg)


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
    console = Console()
    console.print("[bold]1/3[/] local stack")
    control.up(settings)
    for row in control.status(settings):
        console.print(f"    {'up  ' if row.ok else 'DOWN'} {row.name:<18} {row.detail}")
    prefix = args.id_prefix or _run_prefix()
    console.print(
        f"[bold]2/3[/] worker on :{settings.web_port} (log {settings.data_dir / 'worker.log'})"
    )
    worker = start_worker(settings)
    view, stop = View(), threading.Event()
    poller = threading.Thread(target=_poll, args=(view, settings.web_port, stop), daemon=True)
    try:
        console.print(
            f"[bold]3/3[/] replaying {args.source} ({args.limit} per source, ids {prefix}*)"
        )
        poller.start()
        start = datetime.now(UTC).replace(microsecond=0) if args.now else None
        records = source_records(
            _available(console, args.source.split(","), args.tweets),
            seed=args.seed,
            limit=args.limit,
            start=start,
            tweets_path=args.tweets,
        )
        with Live(view.table(), console=console, refresh_per_second=4) as live:

            def progress(n: int) -> None:
                view.produced = n
                live.update(view.table())

            stats = asyncio.run(
                produce_records(
                    settings, records, rate=args.rate, id_prefix=prefix, progress=progress
                )
            )
            deadline = time.monotonic() + 120
            while view.metrics.get("in:ingest", 0) < stats.produced and time.monotonic() < deadline:
                time.sleep(0.5)
                live.update(view.table())
            time.sleep(1.0)
            live.update(view.table())
        _summary(console, view, stats.produced, stats.rate)
        print_answers(console, settings, drafts_wait_s=60.0)
    finally:
        stop.set()
        if not args.keep_worker and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def _available(console: Console, names: list[str], tweets: str | None) -> list[str]:
    """Tweets.csv is non-commercial and never vendored: skip it, saying so, when absent."""
    path = Path(tweets) if tweets else TWEETS_PATH
    if "tweets" in names and not path.exists():
        console.print(f"    [yellow]skipping tweets: {path} not found (pass --tweets PATH)[/]")
        return [n for n in names if n != "tweets"]
    return names


def _summary(console: Console, view: View, produced: int, rate: float) -> None:
    console.print(f"replayed {produced:,} events at {rate:,.0f} events/s")
    reasons = {k[4:]: v for k, v in view.metrics.items() if k.startswith("dlq:")}
    for code, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  dead letters [{code}]: {count:,.0f}")
