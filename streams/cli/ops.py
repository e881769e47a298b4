"""``rapport status``: each service's health, the worker's readiness, lag per partition;
``rapport rewind``: a consumer group's offsets set to a time, the earliest or the latest."""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from streams import rewind
from streams.core.settings import Settings, TopicRole
from streams.lag import group_lag
from streams.stack import control

Handler = Callable[[argparse.Namespace, Settings], int]
CONSUMED: tuple[TopicRole, ...] = ("interactions", "events", "dlq", "insights", "reply_requests")


def worker_ready(settings: Settings) -> tuple[bool, str]:
    url = f"http://{settings.web_host}:{settings.web_port}/ready"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return True, json.dumps(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        return False, exc.read().decode(errors="replace")
    except OSError as exc:
        return False, f"no worker answers at {url}: {exc}"


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    console = Console()
    services = Table(title="services")
    for column in ("service", "state", "detail"):
        services.add_column(column)
    healthy = True
    for row in control.status(settings):
        healthy &= row.ok
        services.add_row(row.name, "up" if row.ok else "DOWN", row.detail)
    ready, detail = worker_ready(settings)
    services.add_row(f"worker :{settings.web_port}", "ready" if ready else "NOT READY", detail)
    console.print(services)
    topics = [settings.topic_name(role) for role in CONSUMED]
    group = args.group or settings.app_id
    lags = asyncio.run(group_lag(settings, group, topics, consumed_only=True))
    table = Table(title=f"consumer lag of group {args.group or settings.app_id}")
    for column in ("topic", "partition", "end", "committed", "lag (messages)", "lag (s)"):
        table.add_column(column, justify="right" if column != "topic" else "left")
    for lag in lags:
        table.add_row(
            lag.topic,
            str(lag.partition),
            str(lag.end),
            str(lag.committed),
            str(lag.messages),
            f"{lag.seconds:.1f}",
        )
    console.print(table)
    return 0 if healthy and ready else 1


def _cmd_rewind(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or settings.app_id
    target = rewind.parse_target(args.to)
    moves = asyncio.run(rewind.plan(settings, group, target, args.topic))
    table = Table(title=f"group {group}: offsets {'to set' if args.dry_run else 'set'}")
    for column in ("topic", "partition", "committed", "new offset"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for move in moves:
        now = "-" if move.committed is None else str(move.committed)
        table.add_row(move.topic, str(move.partition), now, str(move.target))
    if not args.dry_run:
        asyncio.run(rewind.apply(settings, group, moves))
    Console().print(table)
    verb = "would rewind" if args.dry_run else "rewound"
    print(f"{verb} group {group} to {args.to}: {len(moves)} partitions")
    return 0


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    status = sub.add_parser("status", help="services' health, worker readiness, lag per partition")
    status.add_argument("--group", default=None, help="consumer group (default: RAPPORT_APP_ID)")
    handlers["status"] = _cmd_status

    back = sub.add_parser(
        "rewind",
        help="set a consumer group's offsets to a time, earliest or latest (workers stopped)",
    )
    back.add_argument("--group", default=None, help="consumer group (default: RAPPORT_APP_ID)")
    back.add_argument(
        "--to", required=True, help="ISO-8601 time with its UTC offset, earliest or latest"
    )
    back.add_argument(
        "--topic",
        action="append",
        default=[],
        help="a topic to rewind (repeatable; default: every topic the group committed on)",
    )
    back.add_argument("--dry-run", action="store_true", help="print the offsets, change nothing")
    handlers["rewind"] = _cmd_rewind
