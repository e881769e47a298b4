"""``rapport evaluate``: the models against real datasets and batch baselines."""

from __future__ import annotations

import argparse
import json
import os
import platform
import timeit
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.core.settings import Settings

if TYPE_CHECKING:
    from streams.cli.evaluate_drafts import DraftReport

Handler = Callable[[argparse.Namespace, Settings], int]


def _cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from online_models.evaluate import DATASETS, as_json, evaluate  # noqa: PLC0415
    from online_models.evaluate.report import format_table  # noqa: PLC0415

    if args.drafts:
        return _evaluate_drafts(args, settings)
    if args.replayed_drafts:
        return _evaluate_replayed_drafts(args, settings)
    if args.partitions:
        return _evaluate_partitions(args)
    if args.warm:
        return _evaluate_warm(args)
    datasets = DATASETS if args.datasets == "all" else tuple(args.datasets.split(","))
    calibration = [_calibration_us()]
    rows = evaluate(
        args.data_dir,
        datasets=datasets,
        limit=args.limit,
        seed=args.seed,
        warm_passes=args.warm_passes,
    )
    calibration.append(_calibration_us())
    print(format_table(rows))
    if args.json:
        meta = {
            "datasets": list(datasets),
            "limit": args.limit,
            "seed": args.seed,
            "warm_passes": args.warm_passes,
            "timing": "median predict_one + median learn_one, microseconds (wall)",
            "calibration_us_before_after": calibration,
            "python": platform.python_version(),
            "river": version("river"),
            "load_average": os.getloadavg(),
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(as_json(rows, meta), indent=2, default=str) + "\n")
        print(f"wrote {path}")
    return 0


def _evaluate_warm(args: argparse.Namespace) -> int:
    """Cold against warm-started text models on the holdout streams."""
    from online_models.evaluate.warm import evaluate_warm, format_warm  # noqa: PLC0415
    from online_models.warm import train  # noqa: PLC0415

    warm = train(args.data_dir)
    rows = evaluate_warm(warm, args.data_dir)
    print(format_warm(rows, warm.snapshot))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"snapshot": warm.snapshot, "warm": [vars(r) for r in rows]}
        path.write_text(json.dumps(body, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def _evaluate_partitions(args: argparse.Namespace) -> int:
    """Text models laid out as the workers keep them: one per partition."""
    from online_models.evaluate.partitions import (  # noqa: PLC0415
        evaluate_partitions,
        format_partitions,
        partitions_json,
    )

    try:
        counts = sorted({int(n) for n in args.partitions.split(",")})
    except ValueError:
        counts = []
    if not counts or counts[0] < 1:
        print("rapport: --partitions takes counts like 1,2,4")
        return 2
    rows = evaluate_partitions(counts, args.data_dir, limit=args.limit, seed=args.seed)
    print(format_partitions(rows))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"partitions": partitions_json(rows)}, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def _evaluate_drafts(args: argparse.Namespace, settings: Settings) -> int:
    """Draft ``--drafts`` Bitext utterances with the configured LLM; score them."""
    import asyncio  # noqa: PLC0415

    from agents.drafting.build import build_drafter  # noqa: PLC0415
    from online_models.evaluate.data import locate  # noqa: PLC0415
    from streams.cli.evaluate_drafts import bitext_samples, evaluate_drafts  # noqa: PLC0415

    path = locate("bitext", args.data_dir)
    samples, sim = bitext_samples(path, args.drafts, args.seed)
    print(
        f"drafting {len(samples)} Bitext utterances with {settings.llm_model} "
        f"at {settings.llm_base_url} ({settings.drafting_style} style)"
    )
    report = asyncio.run(evaluate_drafts(build_drafter(settings), samples, sim))
    _print_report(report, args.json)
    return 0


REPLAYED_DRAFTS = """SELECT request_id, any(text) AS text, any(fallback) AS fallback,
    any(length(flags) > 0) AS flagged, any(latency_ms) AS latency_ms
FROM drafts WHERE startsWith(request_id, 'bitext-') GROUP BY request_id"""


def _evaluate_replayed_drafts(args: argparse.Namespace, settings: Settings) -> int:
    """Score the drafts the engine stored for replayed Bitext messages (``drafts`` table)."""
    import orjson  # noqa: PLC0415

    from online_models.evaluate.data import locate  # noqa: PLC0415
    from sinks.base import SinkError  # noqa: PLC0415
    from streams.cli import evaluate_drafts as scoring  # noqa: PLC0415
    from streams.cli.sql import ask_worker, client_token, worker_url  # noqa: PLC0415

    url = args.url or worker_url(settings)
    try:
        timeout = settings.clickhouse_sql_timeout_s
        body = ask_worker(url, REPLAYED_DRAFTS, "json", timeout, client_token(settings))
    except SinkError as exc:
        print(f"error: {exc}")
        return 2
    drafts = [
        scoring.Drafted(
            str(r["request_id"]),
            str(r["text"]),
            bool(r["fallback"]),
            bool(r["flagged"]),
            float(r["latency_ms"]),
        )
        for r in map(orjson.loads, body.splitlines())
    ]
    by_id, sim = scoring.bitext_by_message_id(locate("bitext", args.data_dir))
    report, unmatched = scoring.score_replayed(drafts, by_id, sim)
    print(
        f"drafts the engine stored for replayed Bitext messages (worker at {url}): "
        f"{len(drafts) - unmatched} scored, {unmatched} not Bitext rows"
    )
    _print_report(report, args.json)
    return 0 if drafts else 1


def _print_report(report: DraftReport, json_path: str | None) -> None:
    """The drafts' scores, three examples, and the JSON file when asked."""
    print("\n".join(report.lines()))
    for text, draft, reference in report.examples:
        print(f"\n  customer:  {text}\n  draft:     {draft}\n  reference: {reference[:200]}")
    if json_path:
        out = Path(json_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.__dict__, indent=2) + "\n")
        print(f"wrote {out}")


def _calibration_us() -> float:
    """Best of 5 timings of ``sum(range(10_000))``: how fast this machine runs Python
    right now, to compare timings taken under different loads or on other machines."""
    timings = timeit.repeat("sum(range(10_000))", number=50, repeat=5)
    return round(min(timings) / 50 * 1e6, 1)


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    """Register ``evaluate`` on the ``rapport`` sub-command parser."""
    evaluate = sub.add_parser(
        "evaluate", help="replay the real datasets through the models, with batch baselines"
    )
    evaluate.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding all four CSV files (default: data/, then ../shared/data/)",
    )
    evaluate.add_argument(
        "--datasets", default="all", help="all, or comma-separated: tweets,bitext,banking77,telco"
    )
    evaluate.add_argument("--limit", type=int, default=None, help="first N rows of each dataset")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the 80/20 splits")
    evaluate.add_argument(
        "--warm-passes",
        type=int,
        default=0,
        help="also report models warm-started with N passes over the training stream",
    )
    evaluate.add_argument(
        "--warm",
        action="store_true",
        help="instead: the text models cold and from the warm-start snapshot, prequential "
        "accuracy over the first 100 / 1,000 / all events of each holdout stream",
    )
    evaluate.add_argument(
        "--partitions",
        default=None,
        metavar="N,N,...",
        help="instead: sentiment (Tweets) and intent (BANKING77) with one model per "
        "partition, as the workers keep them, for each partition count",
    )
    evaluate.add_argument(
        "--drafts",
        type=int,
        default=0,
        metavar="N",
        help="instead: draft N Bitext utterances with the LLM (RAPPORT_LLM_*) and score "
        "them against the reference responses",
    )
    evaluate.add_argument(
        "--replayed-drafts",
        action="store_true",
        help="instead: score the drafts the running worker stored in ClickHouse for "
        "replayed Bitext messages against their reference responses",
    )
    evaluate.add_argument(
        "--url", default=None, help="with --replayed-drafts: the worker (default: from settings)"
    )
    evaluate.add_argument("--json", default=None, metavar="PATH", help="also write JSON here")
    handlers["evaluate"] = _cmd_evaluate
