"""SIGKILL twice mid-replay: the recovered tables, the skipped redeliveries and the dropped
re-forwards leave every feature exactly equal to the batch recomputation."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.conftest import Scope
from tests.integration.features_support import (
    WORKER_ENV,
    converge,
    replay,
    scrape,
    send,
    truth,
    wait_processed,
    wire,
)
from tests.integration.workers import WorkerProcess

N = 4_500


async def test_two_sigkills_mid_replay_still_exact(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(**WORKER_ENV)
    pairs = wire(replay(N, seed=23))
    total = await send(scope, pairs)

    await wait_processed(worker.port, total // 4)
    worker.kill()  # mid-stream: events since the last commit come again
    worker.start()
    await wait_processed(worker.port, total // 4)
    worker.kill()
    worker.start()

    expected = truth(pairs, scope.settings())
    problems = await converge(scope, expected, sorted(expected), timeout=180)
    assert not problems, problems[:10]
    counts = scrape(worker.port)
    assert counts["replayed"] + counts["duplicate"] > 0, f"no redelivery was exercised: {counts}"
