"""``rapport replay --source synthetic --rate R --now``: event times follow the wall clock.

The synthetic timeline advances by customer visits per hour, far faster than 100 events
per second of wall clock: shifted to start now but not paced, its event times ran hours
ahead and the ingest dead-lettered nearly all of them as ``future_timestamp``. Paced live,
each event is stamped as it is sent and the stream is processed like a live one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.integration.conftest import Scope
from tests.support.events_factory import ids_of
from tests.support.kafka_io import collect
from tests.support.workers import WorkerProcess

N = 1_500
RATE = 100


async def test_a_paced_live_replay_is_processed_with_event_times_of_its_sending(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    argv = [sys.executable, "-m", "streams.cli", "replay", "--source", "synthetic", "--now"]
    argv += ["--rate", str(RATE), "--limit", str(N), "--quiet"]
    began = datetime.now(UTC)
    done = await asyncio.to_thread(
        subprocess.run,
        argv,
        env={**os.environ, **scope.env()},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    ended = datetime.now(UTC)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"produced {N} events" in done.stdout

    out = await collect(scope.topic("events"), N, timeout=120, settle=3)
    dlq = await collect(scope.topic("dlq"), 0, timeout=1, settle=1)
    assert [r.json()["reason_code"] for r in dlq] == []
    forwarded = Counter(ids_of([r.value for r in out]))
    assert len(forwarded) == N and max(forwarded.values()) == 1
    # every event dated within the replay's own run (the source had no late events), at
    # the pace it was sent: the span of event times is the span of the sending
    times = sorted(datetime.fromisoformat(str(r.json()["occurred_at"])) for r in out)
    slack = timedelta(seconds=1)
    assert began - slack <= times[0] and times[-1] <= ended + slack, (began, times[0], ended)
    assert times[-1] - times[0] >= timedelta(seconds=0.8 * N / RATE)
