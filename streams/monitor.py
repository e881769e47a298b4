"""A worker timer that exports its group's consumer lag (messages and seconds)."""

from __future__ import annotations

import logging
from typing import Any

from mode import BaseSignalT

from streams import metrics
from streams.app import Runtime
from streams.lag import group_lag

log = logging.getLogger(__name__)
LAG_INTERVAL_S = 5.0


def register(runtime: Runtime) -> None:
    app, settings = runtime.app, runtime.settings

    async def export_lag() -> None:
        try:
            assigned = {tp.topic for tp in app.consumer.assignment()}
        except Exception:
            return
        topics = sorted(t for t in assigned if not t.endswith("-changelog"))
        if not topics:
            return
        try:
            lags = await group_lag(settings, app.conf.id, topics)
        except Exception as exc:
            log.warning("lag check failed: %s", exc)
            return
        for lag in lags:
            labels = (lag.topic, str(lag.partition))
            metrics.CONSUMER_LAG_MESSAGES.labels(*labels).set(lag.messages)
            metrics.CONSUMER_LAG_SECONDS.labels(*labels).set(lag.seconds)

    app.timer(interval=LAG_INTERVAL_S)(export_lag)

    async def on_assigned(
        sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
    ) -> None:
        assigned = args[0] if args else kwargs.get("assigned", set())
        metrics.REBALANCES.inc()
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))

    app.on_partitions_assigned.connect(on_assigned)
