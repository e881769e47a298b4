"""The churn delayed-label join lives in the ``churn-holds`` table: a worker SIGKILLed
before it wrote any model checkpoint still learns every outcome of the predictions it
held, after the restart (before the table, the holds were only in the checkpoint and
died with the process: every outcome was ``unmatched``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from agents.scoring.store import ModelStore
from tests.integration.conftest import Scope
from tests.support.features_worker import WORKER_ENV, send, wait_processed
from tests.support.kafka_io import end_offsets, wait_committed
from tests.support.workers import WorkerProcess, metric

CUSTOMERS = 40
HORIZON_S = 30 * 86_400
LATENESS_S = 3_600
ENV = {
    **WORKER_ENV,
    "RAPPORT_DRAFTING_ENABLED": "false",
    "RAPPORT_MODELS_CHECKPOINT_INTERVAL_S": "3600",  # no checkpoint before the kill
    "RAPPORT_MODELS_CHURN_HORIZON_S": str(HORIZON_S),
    "RAPPORT_FEATURES_ALLOWED_LATENESS_S": str(LATENESS_S),
}
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def subscription(cid: str, n: int, at: datetime, action: str) -> tuple[bytes, bytes]:
    event = {
        "type": "subscription",
        "event_id": f"{cid}-{action}-{n}",
        "customer_id": cid,
        "occurred_at": at.isoformat(),
        "source": "test",
        "action": action,
        "plan": "Month-to-month" if n % 2 else "Two year",
        "monthly_charges": 20.0 + n,
        "tenure_months": n,
    }
    return cid.encode(), orjson.dumps(event)


def labels(port: int) -> dict[str, float]:
    """``rapport_scoring_labels_total{model="churn"}`` by outcome."""
    samples = metric(port, "rapport_scoring_labels_total")
    return {found["outcome"]: value for found, value in samples if found["model"] == "churn"}


async def test_held_predictions_survive_a_sigkill_without_checkpoint(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(**ENV)
    customers = [f"hold-{i}" for i in range(CUSTOMERS)]
    opened = [
        subscription(c, i, T0 + timedelta(seconds=i), "started") for i, c in enumerate(customers)
    ]
    await send(scope, opened)
    await wait_processed(worker.port, len(opened))
    # once the group committed them, a restart does not redeliver them: the holds can
    # only come back from the table
    ends = await end_offsets(scope.topic("events"), len(opened))
    await wait_committed(scope.env()["RAPPORT_APP_ID"], ends, timeout=60)
    settings = scope.settings()
    store = ModelStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix)
    try:
        stored = [await store.load(p) for p in range(settings.topic_partitions)]
    finally:
        await store.close()
    assert all(s is None or s.blob is None for s in stored), "a checkpoint was written"
    worker.kill()

    worker.start()
    half = CUSTOMERS // 2
    day = T0 + timedelta(days=3)
    outcomes = [subscription(c, i, day, "cancelled") for i, c in enumerate(customers[:half])]
    # past every deadline + the allowed lateness: the other half closes as retained
    past = T0 + timedelta(seconds=HORIZON_S + LATENESS_S + CUSTOMERS + 60)
    watermark = [subscription(f"clock-{p}", p, past, "started") for p in range(64)]
    await send(scope, outcomes + watermark)
    await wait_processed(worker.port, len(outcomes) + len(watermark))
    got = labels(worker.port)
    assert got.get("unmatched", 0) == 0, got
    # every partition that held a customer saw a later event, so all holds closed
    assert got.get("learnt") == CUSTOMERS, got
