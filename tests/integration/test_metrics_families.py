"""Every metric family operators rely on is on a worker's ``/metrics`` after a small
mixed replay (messages, orders, carts, page views, one bad record), with the counts
that replay implies: one real worker on Kafka, Redis, chDB and the fault LLM."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import Scope
from tests.support.drafting import fault
from tests.support.fault_llm import FaultLLM
from tests.support.features_worker import WORKER_ENV
from tests.support.kafka_io import produce
from tests.support.workers import WorkerProcess

__all__ = ["fault"]
CUSTOMERS = [f"m{i}" for i in range(4)]
PARTITIONS = 2
AGE = timedelta(minutes=1)
"""How old the replayed events are when produced (each stage latency is above it)."""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def ev(kind: str, eid: str, customer: str, **fields: Any) -> dict[str, Any]:
    base = {"type": kind, "event_id": eid, "customer_id": customer, "source": "test"}
    return {**base, "occurred_at": (datetime.now(UTC) - AGE).isoformat(), **fields}


def replay() -> list[dict[str, Any]]:
    out = []
    for c in CUSTOMERS:
        out += [
            ev("page_view", f"pv-{c}", c, url=f"https://shop.example/p/{c}", product_id="p1"),
            ev("cart", f"cart-{c}", c, cart_id=f"k-{c}", action="add", product_id="p1"),
            ev(
                "order",
                f"ord-{c}",
                c,
                order_id=f"o-{c}",
                amount=20.0,
                currency="EUR",
                items=[{"product_id": "p1", "quantity": 2, "unit_price": 10.0}],
            ),
            ev(
                "message",
                f"msg-{c}",
                c,
                channel="chat",
                direction="inbound",
                conversation_id=f"conv-{c}",
                text=f"where is my parcel {c}?",
            ),
        ]
    return out


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float | None:
    """Sum of the samples of ``name`` carrying ``labels``; None when there is none."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= ls]
    return sum(found) if found else None


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(ls)[label] for (n, ls) in samples if n == name and label in dict(ls)}


async def test_every_family_is_exported_after_a_mixed_replay(
    scope: Scope, start_worker: Callable[..., WorkerProcess], fault: FaultLLM
) -> None:
    fault.reset("ok", latency_s=0.05)
    fault.plan["msg-m0"] = ["500", "ok"]  # one server error, retried
    worker = start_worker(
        **WORKER_ENV,
        RAPPORT_TOPIC_PARTITIONS=str(PARTITIONS),
        RAPPORT_LLM_BASE_URL=fault.base_url,
        RAPPORT_LLM_TIMEOUT_S="4",
        RAPPORT_LLM_MAX_RETRIES="1",
        RAPPORT_DRAFTING_DEADLINE_S="8",
        RAPPORT_DRAFTING_BACKOFF_S="0.1",
    )
    events = replay()
    messages = sum(e["type"] == "message" for e in events)
    bad = (b"m0", orjson.dumps({"type": "rating"}))  # dead-lettered: missing_field
    started = time.monotonic()
    await produce(
        scope.topic("interactions"),
        [bad, *((e["customer_id"].encode(), orjson.dumps(e)) for e in events)],
    )
    interactions = scope.topic("interactions")

    def settled(s: Samples) -> bool:
        lags = [
            total(s, "rapport_consumer_lag_messages", topic=interactions, partition=str(p))
            for p in range(PARTITIONS)
        ]
        return (
            total(s, "rapport_sink_rows_total", table="interactions") == len(events)
            and total(s, "rapport_sink_rows_total", table="drafts") == messages
            and total(s, "rapport_sink_rows_total", table="dead_letters") == 1
            and (total(s, "rapport_sink_rows_total", table="insights") or 0) >= 2 * messages
            and total(s, "rapport_stage_latency_seconds_count", stage="draft") == messages
            and total(s, "rapport_table_keys", table="features") == len(CUSTOMERS)
            and lags == [0.0] * PARTITIONS
        )

    deadline = time.monotonic() + 150
    samples = scrape(worker.port)
    while not settled(samples):
        assert time.monotonic() < deadline, f"not settled:\n{worker.log_tail()}"
        await asyncio.sleep(1)
        samples = scrape(worker.port)
    print(f"settled {time.monotonic() - started:.1f}s after the replay was produced")

    def n(name: str, **labels: str) -> float | None:
        return total(samples, name, **labels)

    valid, records = len(events), len(events) + 1
    # events in and out, per agent (scoring included)
    assert n("rapport_events_in_total", agent="ingest") == records
    assert n("rapport_events_out_total", agent="ingest", topic="events") == valid
    assert n("rapport_events_out_total", agent="ingest", topic="dlq") == 1
    assert n("rapport_events_in_total", agent="features") == valid
    assert n("rapport_events_in_total", agent="scoring") == valid
    insights = n("rapport_events_out_total", agent="scoring", topic="insights")
    assert insights is not None and insights >= 2 * messages  # sentiment and intent each
    assert n("rapport_events_in_total", agent="drafting") == messages
    assert n("rapport_events_out_total", agent="drafting", topic="drafted_replies") == messages
    sink_in = n("rapport_events_in_total", agent="sink")
    assert sink_in is not None and sink_in >= valid + 1 + 2 * messages + messages
    # stage latencies: one observation per applied event, per event with insights (every
    # message, not every order or cart), per interactions row, per draft; the events are
    # a minute old when produced
    assert n("rapport_stage_latency_seconds_count", stage="features") == valid
    with_insights = n("rapport_stage_latency_seconds_count", stage="insight")
    assert with_insights is not None and messages <= with_insights <= valid
    assert n("rapport_stage_latency_seconds_count", stage="sink") == valid
    assert n("rapport_stage_latency_seconds_count", stage="draft") == messages
    for stage in ("features", "insight", "sink", "draft"):
        assert n("rapport_stage_latency_seconds_bucket", stage=stage, le="10.0") == 0
        assert n("rapport_stage_latency_seconds_bucket", stage=stage, le="300.0") == n(
            "rapport_stage_latency_seconds_count", stage=stage
        )
    # dead letters by reason, lag per partition, table size, rebalances
    assert n("rapport_dead_letters_total", reason_code="missing_field") == 1
    assert label_values(samples, "rapport_consumer_lag_messages", "topic") >= {
        interactions,
        scope.topic("events"),
    }
    assert n("rapport_consumer_lag_seconds", topic=interactions) == 0
    assert n("rapport_table_keys", table="features") == len(CUSTOMERS)
    rebalances = n("rapport_rebalances_total")
    assert rebalances is not None and rebalances >= 1
    assert (n("rapport_assigned_partitions") or 0) >= PARTITIONS
    # the LLM: one request per draft plus the retried 500, errors by kind, breaker
    assert n("rapport_llm_requests_total") == messages + 1 == len(fault.calls)
    assert n("rapport_llm_errors_total", kind="server_error") == 1
    assert n("rapport_llm_errors_total", kind="timeout") == 0
    assert n("rapport_llm_errors_total") == 1
    assert n("rapport_llm_request_seconds_count") == messages + 1
    assert n("rapport_llm_breaker_open") == 0
    assert n("rapport_drafts_total", source="llm") == messages
    # models: insights per model, versions per partition that saw events
    assert n("rapport_scoring_insights_total", model="sentiment") == messages
    assert n("rapport_scoring_insights_total", model="intent") == messages
    assert {"sentiment", "intent", "churn"} <= label_values(
        samples, "rapport_model_version", "model"
    )
    # the sink: rows per table, batches, no retry backlog, up
    assert n("rapport_sink_rows_total", table="dead_letters") == 1
    assert n("rapport_sink_rows_total", table="drafts") == messages
    batches = n("rapport_sink_batch_rows_count", sink="clickhouse")
    assert batches is not None and batches >= 1
    assert (n("rapport_sink_batch_rows_sum", sink="clickhouse") or 0) >= valid + 1 + messages
    assert n("rapport_sink_retry_backlog_rows", sink="clickhouse") == 0
    assert n("rapport_sink_up", sink="clickhouse") == 1
