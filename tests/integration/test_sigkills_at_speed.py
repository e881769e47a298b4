"""Nothing lost or doubled at speed: a 200,000-event backlog through a worker SIGKILLed
three times mid-stream, then ClickHouse holds every event, feature snapshot and insight
exactly once.

The backlog is the pipeline bench's synthetic mix (page views, carts, orders, messages,
tickets, ratings, subscriptions of 20,000 customers), waiting in ``interactions`` before
the first start, so the worker runs flat out: full batches, full queues (records parked),
the producer's linger, the sink's large inserts. Each run is killed once it has consumed
another quarter of the events; whatever it had fetched, parked, produced or inserted
since its last commit comes again in the next run. Drafting is off (it runs at the LLM's
pace; its exactness under SIGKILL is tested in ``test_drafting_worker``).

What ClickHouse must hold, each row once (``count()`` equal to the distinct keys, before
any merge of the replacing tables):
- ``interactions``: every one of the 200,000 event ids;
- ``insights``: every insight id on the ``insights`` topic (per model), the topic carrying
  any copies a crash re-sent;
- ``feature_snapshots``: every (customer, as_of) on the ``features`` topic.
The sink writes only what it read from those topics, so equal distinct counts are equal
sets. Finally the group's lag is 0 on every topic the worker reads.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer

from streams.bench.pipeline import mixed_events
from streams.cli.main_job_drain import drain
from streams.topics import consumed_roles, create_topics
from tests.integration.conftest import Scope
from tests.integration.test_sink import FAST_REJOIN, QUIET, sql
from tests.support.features_worker import WORKER_ENV, processed, wait_processed
from tests.support.kafka_io import BOOTSTRAP, produce
from tests.support.workers import WorkerProcess

N = int(os.environ.get("RAPPORT_TEST_SIGKILL_EVENTS", "200000"))
KILLS = 3


Key = Callable[[dict[str, object]], tuple[str, str]]


async def distinct_on(topic: str, key: Key) -> Counter[str]:
    """Distinct ``key`` values of every record on ``topic``, counted per first element."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    seen: set[tuple[str, str]] = set()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                for record in records:
                    if record.value:
                        seen.add(key(orjson.loads(record.value)))
    finally:
        await consumer.stop()
    return Counter(group for group, _ in seen)


def rows_per(worker: WorkerProcess, table: str, group: str, key: str) -> dict[str, tuple[int, int]]:
    """Per ``group``: rows and distinct ``key`` values of ``table`` (no FINAL: copies count)."""
    query = f"SELECT {group} AS g, count() AS n, uniqExact({key}) AS u FROM {table} GROUP BY g"
    return {str(r["g"]): (int(r["n"]), int(r["u"])) for r in sql(worker, query)}


async def test_three_sigkills_at_speed_lose_and_double_nothing(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = scope.settings().model_copy(update={"drafting_enabled": False})
    roles = consumed_roles(settings)
    await create_topics(settings, roles)
    assert await produce(scope.topic("interactions"), mixed_events(N, scope.name)) == N

    worker = start_worker(**{**WORKER_ENV, **FAST_REJOIN, **QUIET})
    consumed = []
    for _ in range(KILLS):
        await wait_processed(worker.port, N // (KILLS + 1), timeout=600)
        consumed.append(processed(worker.port))
        worker.kill()  # mid-stream: whatever came since the last commit comes again
        worker.start()
    assert sum(consumed) < N, consumed  # every kill came before the end

    topics = [settings.topic_name(role) for role in roles]
    result = await drain(
        settings, topics, timeout_s=900, on_poll=lambda _: None, alive=worker.alive, settle_s=5
    )
    assert result.drained, f"lag left: {result.last.lag_text()}\n{worker.log_tail(30)}"

    events = rows_per(worker, "interactions", "'all'", "event_id")
    assert events == {"all": (N, N)}, events
    insights_on_topic = await distinct_on(
        scope.topic("insights"), lambda r: (str(r["model"]), str(r["insight_id"]))
    )
    models = {"churn", "segment", "anomaly", "sentiment", "intent", "reco"}
    assert models <= set(insights_on_topic), insights_on_topic  # every model published
    insights = rows_per(worker, "insights", "model", "insight_id")
    want = {model: (n, n) for model, n in insights_on_topic.items()}
    assert insights == want, (insights, want)
    snapshots_on_topic = await distinct_on(
        scope.topic("features"), lambda r: ("all", f"{r['customer_id']}|{r['as_of']}")
    )
    snapshots = rows_per(worker, "feature_snapshots", "'all'", "(customer_id, as_of)")
    n = snapshots_on_topic["all"]
    assert n > 0 and snapshots == {"all": (n, n)}, (snapshots, n)
