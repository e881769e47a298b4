"""Worker timers that export the group's consumer lag and the size of the features table.

**Lag rule**: a worker exports the lag (messages and seconds) of the partitions assigned
to it only, changelogs excluded. A partition has one owner in the group, so summing
``rapport_consumer_lag_messages`` over workers gives the group's lag without double
counting; a partition that moved to another worker loses its series here at the next
export. The lag itself is read from Kafka (:func:`streams.lag.group_lag`).

**Table size**: ``rapport_table_keys{table="features"}`` counts the keys of the features
table in this worker's active partitions every ``TABLE_INTERVAL_S`` (never per event);
counting walks the keys, so a table that takes ``t`` seconds to count is counted again
after ``TABLE_BUSY_FACTOR * t`` at the earliest (1% of the event loop at most).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from faust.types import TP
from mode import BaseSignalT

from streams.core import metrics
from streams.core.runtime import Runtime, tables_ready
from streams.lag import group_lag

log = logging.getLogger(__name__)
LAG_INTERVAL_S = 5.0
TABLE_INTERVAL_S = 10.0
TABLE_BUSY_FACTOR = 100.0
SIZED_TABLES = ("features",)

Labels = tuple[str, str]


def lag_partitions(assignment: Iterable[TP]) -> set[tuple[str, int]]:
    """The partitions whose lag this worker exports: its assignment, changelogs excluded.

    >>> sorted(lag_partitions([TP("t.events", 1), TP("t.app-features-changelog", 1)]))
    [('t.events', 1)]
    """
    return {(tp.topic, tp.partition) for tp in assignment if not tp.topic.endswith("-changelog")}


def stale(exported: set[Labels], current: set[Labels]) -> set[Labels]:
    """Series exported before whose partition is no longer this worker's.

    >>> sorted(stale({("t", "0"), ("t", "1")}, {("t", "1"), ("t", "2")}))
    [('t', '0')]
    """
    return exported - current


def register(runtime: Runtime) -> None:
    app, settings = runtime.app, runtime.settings
    exported: set[Labels] = set()

    async def export_lag() -> None:
        try:
            owned = lag_partitions(app.consumer.assignment())
        except Exception:
            return
        topics = sorted({topic for topic, _ in owned})
        try:
            lags = await group_lag(settings, app.conf.id, topics, only=owned) if owned else []
        except Exception as exc:
            log.warning("lag check failed: %s", exc)
            return
        current: set[Labels] = set()
        for lag in lags:
            labels = (lag.topic, str(lag.partition))
            current.add(labels)
            metrics.CONSUMER_LAG_MESSAGES.labels(*labels).set(lag.messages)
            metrics.CONSUMER_LAG_SECONDS.labels(*labels).set(lag.seconds)
            metrics.CONSUMER_LAG_EVENT_SECONDS.labels(*labels).set(lag.event_seconds)
        for labels in stale(exported, current):
            for gauge in (
                metrics.CONSUMER_LAG_MESSAGES,
                metrics.CONSUMER_LAG_SECONDS,
                metrics.CONSUMER_LAG_EVENT_SECONDS,
            ):
                with suppress(KeyError):
                    gauge.remove(*labels)
        exported.clear()
        exported.update(current)

    next_count = 0.0

    async def export_table_keys() -> None:
        nonlocal next_count
        if time.monotonic() < next_count or not tables_ready(app):
            return
        started = time.monotonic()
        for name in SIZED_TABLES:
            table: Any = app.tables.get(name)
            if table is None:
                continue
            try:
                metrics.TABLE_KEYS.labels(name).set(len(table))  # active partitions only
            except Exception as exc:  # a rebalance closed a partition's store meanwhile
                log.info("table %s not sized: %s", name, exc)
        # counting walks the keys: at most 1% of the event loop's time
        next_count = time.monotonic() + TABLE_BUSY_FACTOR * (time.monotonic() - started)

    app.timer(interval=LAG_INTERVAL_S)(export_lag)
    app.timer(interval=TABLE_INTERVAL_S, name="table-keys")(export_table_keys)

    async def on_assigned(
        sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
    ) -> None:
        assigned = args[0] if args else kwargs.get("assigned", set())
        metrics.REBALANCES.inc()
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))

    app.on_partitions_assigned.connect(on_assigned)
