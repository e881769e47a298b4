"""``rapport import PATH --mapping M``: a user's own history into the interactions topic.

Reads the file (CSV or JSON Lines) with the mapping (``docs/import.md``), reports what
it found (events per type, customers, time span, refused rows per reason with
examples), then produces the valid events in event-time order through the same ingest
as live events, with a progress bar (rate, ETA). ``--dry-run`` stops after the report.
A re-run of the same file and mapping resumes after the events already acknowledged
(:mod:`streams.backfill.resume`).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from streams.cli.jobs import Handler
from streams.core.errors import RapportError
from streams.core.settings import Settings

if TYPE_CHECKING:
    from streams.backfill.convert import Refused
    from streams.backfill.plan import Plan

EXAMPLES = 3
"""Refused rows shown per reason (all of them go to ``--rejects``)."""


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "- events/s")


def _cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.validate import Limits  # noqa: PLC0415
    from streams.backfill.mapping import load_mapping  # noqa: PLC0415
    from streams.backfill.plan import plan  # noqa: PLC0415

    path = Path(args.path)
    if not path.is_file():
        raise RapportError(f"import: {path} is not a file")
    mapping = load_mapping(args.mapping)
    limits = Limits(settings.max_event_bytes, settings.max_future_skew_s)
    found = plan(path, mapping, limits, datetime.now(UTC))
    _report(path, found)
    if args.rejects:
        _write_rejects(Path(args.rejects), found.refused)
    if args.dry_run:
        print("dry run: nothing produced")
        return 0
    if not found.ready:
        print("nothing to import")
        return 1 if found.refused else 0
    return _send(args, settings, path, found)


def _report(path: Path, found: Plan) -> None:
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(found.by_type().items()))
    span = ""
    if found.ready:
        span = f", {found.ready[0].at.isoformat()} to {found.ready[-1].at.isoformat()}"
    print(
        f"read {found.rows:,} rows of {path.name}: {len(found.ready):,} events "
        f"({kinds or 'none'}) of {found.customers():,} customers{span}"
    )
    if not found.refused:
        return
    n = len(found.refused)
    print(f"refused {n:,} row{'s' if n != 1 else ''}:")
    for code, count in found.by_reason().most_common():
        print(f"  {code}: {count:,}")
        for example in [r for r in found.refused if r.reason_code == code][:EXAMPLES]:
            print(f"    {example.reason}")


def _write_rejects(path: Path, refused: list[Refused]) -> None:
    with path.open("wb") as out:
        for r in refused:
            out.write(
                orjson.dumps({"row": r.row, "reason_code": r.reason_code, "reason": r.reason})
            )
            out.write(b"\n")
    print(f"refused rows written to {path}")


def _send(args: argparse.Namespace, settings: Settings, path: Path, found: Plan) -> int:
    from streams.backfill.resume import Mark, mark_path  # noqa: PLC0415
    from streams.replay.produce import send_pairs  # noqa: PLC0415
    from streams.stack.control import require_broker  # noqa: PLC0415

    require_broker(settings)
    topic = settings.topic_name("interactions")
    mapping_text = Path(args.mapping).read_text(encoding="utf-8")
    mark = Mark(mark_path(settings.data_dir, path, mapping_text, topic), len(found.ready))
    if args.from_start:
        mark.clear()
    skip = mark.produced
    if skip == len(found.ready):
        print(f"already imported: all {skip:,} events were produced by an earlier run")
        return 0
    if skip:
        print(f"resuming: the first {skip:,} events were produced by an earlier run")
    todo = found.ready[skip:]
    columns = (
        TextColumn("import"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, disable=args.quiet) as bar:
        task = bar.add_task("import", total=len(found.ready), completed=skip)

        def acked(n: int) -> None:
            mark.save(skip + n)
            bar.update(task, completed=skip + n)

        sent = asyncio.run(
            send_pairs(settings, ((r.key, r.value) for r in todo), rate=args.rate, progress=acked)
        )
    print(f"produced {sent:,} events to {topic}" + (f" ({skip:,} before)" if skip else ""))
    return 0


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    imp = sub.add_parser("import", help="import a CSV or JSON Lines history through a mapping file")
    imp.add_argument("path", help="the file: .csv, .jsonl")
    imp.add_argument("--mapping", required=True, help="the mapping file (TOML, docs/import.md)")
    imp.add_argument("--dry-run", action="store_true", help="read and check, produce nothing")
    imp.add_argument("--rate", type=float, default=None, help="events/s (default: max)")
    imp.add_argument("--rejects", default=None, help="write every refused row here (JSONL)")
    imp.add_argument("--from-start", action="store_true", help="ignore an earlier run's progress")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    handlers["import"] = _cmd_import
