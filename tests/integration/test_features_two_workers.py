"""Two workers share the partitions; HTTP answers come from the owner's table on either
worker; one worker is SIGKILLed mid-replay, the other takes its partitions over,
recovers their tables from the changelog and the features stay exact.

The workers run with compose's web settings: bound to 0.0.0.0, each advertising its own
address (``RAPPORT_WEB_ADVERTISED_URL=http://{ip}:{port}``), so a request is routed to
the owner instead of each worker taking itself for it and answering from Redis."""

from __future__ import annotations

import asyncio
import socket
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
    env = {
        **WORKER_ENV,
        "RAPPORT_WEB_HOST": "0.0.0.0",
        "RAPPORT_WEB_ADVERTISED_URL": "http://{ip}:{port}",
    }
    ip = socket.gethostbyname(socket.gethostname())
    first = start_worker(**env, RAPPORT_AGENTS="processing")
    second = start_worker(**env, RAPPORT_AGENTS="processing")
    first.wait_ready(120)
    pairs = wire(replay(N, seed=37))
    head, tail = pairs[: len(pairs) // 3], pairs[len(pairs) // 3 :]
    await send(scope, head)
    expected_head = truth(head, scope.settings())
    problems = await converge(scope, expected_head, sorted(expected_head))
    assert not problems, problems[:10]
    sample = sorted(expected_head)[::40]
    served_by = owners([first, second], sample)
    assert set(served_by.values()) == {f"http://{ip}:{w.port}" for w in (first, second)}
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
    assert set(owners([second], sample).values()) == {f"http://{ip}:{second.port}"}
    assert scrape(second.port)["applied"] > 0
