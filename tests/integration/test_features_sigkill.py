"""SIGKILL twice mid-replay: the recovered tables, the skipped redeliveries and the dropped
re-forwards leave every feature exactly equal to the batch recomputation."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from tests.integration.conftest import Scope
from tests.support.features_worker import (
    WORKER_ENV,
    converge,
    replay,
    scrape,
    send,
    truth,
    wait_processed,
    wire,
)
from tests.support.workers import WorkerProcess

N = 4_500


def consumed(counts: Counter[str]) -> int:
    """Records one run took from the events topic: its outcomes (records read back after
    a rebalance included), or the consumed counter if larger."""
    return max(counts["in"], sum(n for name, n in counts.items() if name != "in"))


async def kill_after(worker: WorkerProcess, at_least: int) -> Counter[str]:
    """SIGKILL the worker once its feature agent consumed ``at_least`` events and applied
    some of its own (a restarted run first reads again what its predecessor consumed past
    its last commit, all of it skipped), and start it again; what that run had consumed and
    done, read just before the kill."""
    await wait_processed(worker.port, at_least, timeout=300)  # a loaded machine is slow
    counts = await wait_own_work(worker.port, timeout=300)
    worker.kill()  # mid-stream: events since the last commit come again
    worker.start()
    return counts


async def wait_own_work(port: int, timeout: float) -> Counter[str]:
    """Poll until the run applied (or counted late) at least one event it had not seen."""
    deadline = time.monotonic() + timeout
    counts = scrape(port)
    while counts["applied"] + counts["late"] == 0:
        assert time.monotonic() < deadline, f"the restarted run applied nothing: {counts}"
        await asyncio.sleep(0.05)
        counts = scrape(port)
    return counts


async def test_two_sigkills_mid_replay_still_exact(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(**WORKER_ENV)
    pairs = wire(replay(N, seed=23))
    total = await send(scope, pairs)

    first = await kill_after(worker, total // 4)
    second = await kill_after(worker, total // 4)

    expected = truth(pairs, scope.settings())
    problems = await converge(scope, expected, sorted(expected), timeout=180)
    assert not problems, problems[:10]
    last = scrape(worker.port)
    # both kills were mid-replay: neither killed run had consumed every event (a restarted
    # run reads again what its predecessor consumed past its last commit, so their sum may
    # exceed the total), and each restarted run still had events of its own to apply
    assert max(consumed(first), consumed(second)) < total, (first, second, total)
    assert second["applied"] + second["late"] > 0, second
    assert last["applied"] + last["late"] > 0, last
    # the offset skip ran: records redelivered after a kill, already in the recovered state
    replayed = second["replayed"] + last["replayed"]
    assert replayed > 0, f"no redelivered record was skipped: {second}, {last}"
