"""Sub-commands that run jobs against a running stack: replay, the main job, bench."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.core.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def replay_with_progress(settings: Settings, names: list[str], args: argparse.Namespace) -> int:
    from streams.replay.produce import produce_records  # noqa: PLC0415
    from streams.stack.control import require_broker  # noqa: PLC0415

    require_broker(settings)  # one line naming the setting, not aiokafka's retries
    from streams.replay import timed_records  # noqa: PLC0415

    live = bool(args.now and args.rate)
    records = timed_records(
        names,
        seed=args.seed,
        limit=args.limit,
        tweets_path=args.tweets,
        now=datetime.now(UTC).replace(microsecond=0) if args.now else None,
        live=live,
    )
    columns = (TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=args.quiet) as bar:
        task = bar.add_task("replay", total=None)
        stats = asyncio.run(
            produce_records(
                settings,
                records,
                rate=args.rate,
                id_prefix=args.id_prefix,
                progress=lambda n: bar.update(task, completed=n),
                live=live,
            )
        )
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(stats.by_type.items()))
    print(
        f"produced {stats.produced} events in {stats.seconds:.1f}s "
        f"({stats.rate:,.0f} events/s) to {settings.topic_name('interactions')}: {kinds}"
    )
    return 0


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    return replay_with_progress(settings, args.source.split(","), args)


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.main_job import run_main_job  # noqa: PLC0415

    return run_main_job(settings, args)


BENCHES = {
    "sink": ("streams.cli.sql", "bench_sink"),
    "state": ("streams.bench.state", "run_state_bench"),
    "features": ("streams.bench.features", "run_features_bench"),
    "soak": ("streams.bench.soak", "run_soak"),
    "peers": ("streams.bench.peers", "run_peers_bench"),
    "drafting": ("streams.bench.drafting", "run_drafting_bench"),
    "live": ("streams.bench.live", "run_live_bench"),
}
"""Each bench's module and entry point, imported only when that bench runs."""


def _cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    module, name = BENCHES.get(args.workload, ("streams.bench.run", "run_bench"))
    entry = getattr(importlib.import_module(module), name)
    if args.workload == "sink":
        return int(entry(args, settings))
    if args.workload == "state":
        return int(entry(args))
    return int(entry(settings, args))


def _replay_options(parser: argparse.ArgumentParser, limit: int) -> None:
    parser.add_argument("--limit", type=int, default=limit, help="records per source")
    parser.add_argument("--seed", type=int, default=0, help="seed: same seed, same events")
    parser.add_argument("--rate", type=float, default=None, help="events/s (default: max)")
    parser.add_argument("--tweets", default=None, help="path of Tweets.csv (not vendored)")
    parser.add_argument("--id-prefix", default="", help="prefix event ids (a distinct run)")
    parser.add_argument(
        "--now",
        action="store_true",
        help="event times near now: with --rate, each event is stamped as it is sent (its "
        "lag behind the dataset's clock kept: out-of-order and late events stay so); at full "
        "speed, the dataset's timeline shifted to end now",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    replay = sub.add_parser("replay", help="produce real datasets and synthetic events to Kafka")
    replay.add_argument(
        "--source",
        default="bitext,banking77,telco,synthetic",
        help="comma-separated: tweets,bitext,banking77,telco,synthetic",
    )
    _replay_options(replay, 5000)
    handlers["replay"] = _cmd_replay

    run = sub.add_parser("run", help="the main job: stack, a worker, a replay, a live view")
    run.add_argument("--source", default="tweets,bitext,banking77,telco,synthetic")
    _replay_options(run, 4000)
    run.add_argument("--keep-worker", action="store_true", help="leave the worker running")
    run.add_argument(
        "--drain-timeout",
        type=float,
        default=1200.0,
        help="seconds to wait after the replay for the worker's group to process it all "
        "(lag 0 on every topic it reads) before the answers; exit 1 when it does not",
    )
    handlers["run"] = _cmd_run

    bench = sub.add_parser("bench", help="benchmarks beside a bare aiokafka loop")
    bench.add_argument(
        "workload",
        nargs="?",
        default="all",
        choices=[
            "all",
            "ingest",
            "pipeline",
            "sink",
            "drafting",
            "state",
            "features",
            "soak",
            "peers",
            "live",
        ],
        help="all: ingest and the full pipeline (drafting off), beside the baseline",
    )
    bench.add_argument("--events", type=int, default=100_000)
    bench.add_argument("--llm-latency", type=float, default=2.0, help="drafting: LLM seconds")
    bench.add_argument("--rounds", type=int, default=2, help="drafting: off/on pairs")
    bench.add_argument(
        "--customers", type=int, default=100_000, help="features: customers of state at restart"
    )
    bench.add_argument("--json", default="bench-results/latest.json", help="result file")
    soak = bench.add_argument_group("soak: a steady stream, memory every minute")
    soak.add_argument("--rate", type=float, default=100.0, help="soak, live: events/s")
    soak.add_argument("--minutes", type=float, default=30.0, help="soak, live: how long")
    soak.add_argument("--drafting", choices=["on", "off"], default="on", help="soak: drafting")
    soak.add_argument("--warmup-minutes", type=float, default=5.0, help="soak: heap mark")
    soak.add_argument("--every", type=float, default=60.0, help="soak: seconds per sample")
    soak.add_argument("--population", type=int, default=2_000, help="soak: customers")
    handlers["bench"] = _cmd_bench
