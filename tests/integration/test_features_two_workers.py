"""Two workers share the partitions; HTTP answers come from the owner's table on either
worker; one worker is SIGKILLed mid-replay, the other takes its partitions over,
recovers their tables from the changelog and the features stay exact."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.integration.conftest import Scope
from tests.support.features import diff
from tests.support.features_worker import (
    WORKER_ENV,
    converge,
    features_json,
    processed,
    replay,
    scrape,
    send,
    truth,
    wire,
)
from tests.support.workers import WorkerProcess

N = 4_500


def owners(workers: list[WorkerProcess], customers: list[str]) -> dict[str, str]:
    """The worker that answered each customer, asked through every worker."""
    out = {}
    for customer in customers:
        answers = [w.get(f"/customers/{customer}/features") for w in workers]
        assert all(status == 200 for status, _ in answers), answers
        assert all(body["source"] == "table" for _, body in answers), answers
        assert len({str(body["served_by"]) for _, body in answers}) == 1
        out[customer] = str(answers[0][1]["served_by"])
    return out


async def test_survivor_takes_over_and_stays_exact(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    env = WORKER_ENV
    first = start_worker(**env, RAPPORT_CLICKHOUSE_DSN=f"chdb://{scope.data_dir / 'chdb-1'}")
    second = start_worker(**env, RAPPORT_CLICKHOUSE_DSN=f"chdb://{scope.data_dir / 'chdb-2'}")
    first.wait_ready(120)
    pairs = wire(replay(N, seed=37))
    head, tail = pairs[: len(pairs) // 3], pairs[len(pairs) // 3 :]
    await send(scope, head)
    expected_head = truth(head, scope.settings())
    problems = await converge(scope, expected_head, sorted(expected_head))
    assert not problems, problems[:10]
    sample = sorted(expected_head)[::40]
    served_by = owners([first, second], sample)
    assert len(set(served_by.values())) == 2, "both workers own partitions"
    for customer in sample[:5]:
        status, body = second.get(f"/customers/{customer}/features")
        assert status == 200
        assert diff({customer: features_json(body)}, {customer: expected_head[customer]}) == []

    await send(scope, tail)
    target = processed(first.port) + processed(second.port) + len(tail) // 4
    for _ in range(2400):  # mid-replay: a quarter of the tail consumed
        if processed(first.port) + processed(second.port) >= target:
            break
        await asyncio.sleep(0.05)
    first.kill()

    expected = truth(pairs, scope.settings())
    problems = await converge(scope, expected, sorted(expected), timeout=180)
    assert not problems, problems[:10]
    assert set(owners([second], sample).values()) == {f"http://127.0.0.1:{second.port}"}
    assert scrape(second.port)["applied"] > 0
