"""``rapport replay --source synthetic --now``: event times near now, none ahead of it.

The synthetic timeline advances by customer visits per hour, far faster than a replay
sends: shifted to start now, its event times ran hours ahead and the ingest dead-lettered
nearly all of them as ``future_timestamp``. Paced (``--rate``), each event is now stamped
as it is sent; at full speed, the whole timeline is shifted to end now.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from streams.replay import source_records
from tests.integration.conftest import Scope
from tests.support.events_factory import ids_of
from tests.support.kafka_io import collect
from tests.support.workers import WorkerProcess

N = 1_500
RATE = 100


def replay(scope: Scope, *args: str) -> subprocess.CompletedProcess[str]:
    """``rapport replay --source synthetic --now`` as a user runs it."""
    argv = [sys.executable, "-m", "streams.cli", "replay", "--source", "synthetic", "--now"]
    argv += ["--limit", str(N), "--quiet", *args]
    env = {**os.environ, **scope.env()}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)


async def test_a_paced_live_replay_is_processed_with_event_times_of_its_sending(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    began = datetime.now(UTC)
    done = await asyncio.to_thread(replay, scope, "--rate", str(RATE))
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


async def test_a_full_speed_replay_from_now_keeps_its_timeline_and_ends_now(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    done = await asyncio.to_thread(replay, scope)
    ended = datetime.now(UTC)
    assert done.returncode == 0, done.stderr[-2000:]

    out = await collect(scope.topic("events"), N, timeout=120, settle=3)
    dlq = await collect(scope.topic("dlq"), 0, timeout=1, settle=1)
    assert [r.json()["reason_code"] for r in dlq] == []
    assert len(set(ids_of([r.value for r in out]))) == N
    # the dataset's own timeline (an hour of customer visits), moved to end at the replay's
    # start: the same gaps between events, the latest one not ahead of the clock
    times = sorted(datetime.fromisoformat(str(r.json()["occurred_at"])) for r in out)
    own = sorted(
        r.at for r in source_records(["synthetic"], seed=0, limit=N, start=None, tweets_path=None)
    )
    assert times[-1] <= ended
    assert [b - a for a, b in pairwise(times)] == [b - a for a, b in pairwise(own)]
    assert own[-1] - own[0] > timedelta(minutes=30)  # far more than the seconds of sending
