"""``rapport status``: each service's health, the worker's readiness, lag per partition."""

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


def add_commands(sub: Any, handlers: dict[str, Handler]) -> None:
    status = sub.add_parser("status", help="services' health, worker readiness, lag per partition")
    status.add_argument("--group", default=None, help="consumer group (default: RAPPORT_APP_ID)")
    handlers["status"] = _cmd_status
