"""The ClickHouse sink on the real stack: misfits and erasure; helpers for ``test_sink_*``.

Counts are read through the worker's ``/sql`` (chDB: the worker owns the path), which
reads the replacing tables with ``final = 1``.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

import orjson

from tests.integration.conftest import Scope
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess

Event = dict[str, Any]
FAST_REJOIN = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "2"}
"""Faust reads these: a SIGKILLed member leaves the group in 10 s, not 60."""
MARKER = "t_sink_marker"
"""A feature our test snapshots carry (the features agent publishes snapshots too)."""
SENTIMENT, CHURN = "sentiment-sinktest", "churn-sinktest"
"""Models of our test insights (a scoring agent may publish its own)."""
QUIET = {"RAPPORT_DRAFTING_ENABLED": "false"}
"""No LLM drafting where the test is not about it (drafts are tested as records)."""


def sql(worker: WorkerProcess, query: str) -> list[dict[str, Any]]:
    body = orjson.dumps({"query": query, "format": "json"})
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.port}/sql",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return [orjson.loads(line) for line in resp.read().splitlines() if line.strip()]


async def counts(worker: WorkerProcess, tables: dict[str, str]) -> dict[str, int]:
    out = {}
    for name, where in tables.items():
        table = name.split(":")[0]
        rows = await asyncio.to_thread(sql, worker, f"SELECT count() AS n FROM {table} {where}")
        out[name] = int(rows[0]["n"])
    return out


async def wait_counts(
    worker: WorkerProcess,
    tables: dict[str, str],
    want: dict[str, int] | None = None,
    timeout: float = 120,
    until: Callable[[dict[str, int]], bool] | None = None,
) -> dict[str, int]:
    """Poll the counts until they equal ``want`` (and stay: no late duplicates) or ``until``."""
    done = until or (lambda got: got == want)
    deadline = asyncio.get_running_loop().time() + timeout
    got: dict[str, int] = {}
    while asyncio.get_running_loop().time() < deadline:
        try:
            got = await counts(worker, tables)
        except OSError:
            got = {}
        if got and done(got):
            if until is not None:
                return got
            await asyncio.sleep(2)
            return await counts(worker, tables)
        await asyncio.sleep(0.5)
    return got


def keyed(records: list[Event]) -> list[tuple[bytes | None, bytes | None]]:
    return [(str(r["customer_id"]).encode(), orjson.dumps(r)) for r in records]


def at(ev: Event, seconds: float = 0) -> str:
    return (datetime.fromisoformat(ev["occurred_at"]) + timedelta(seconds=seconds)).isoformat()


def published(events: list[Event], run: str) -> dict[str, list[Event]]:
    """Insights, drafts, feedback events and feature snapshots derived from ``events``."""
    rnd = Random(7)
    now = datetime.now(UTC).isoformat()
    msgs = [e for e in events if e["type"] == "message"]
    inbound = [e for e in msgs if e["direction"] == "inbound"]
    out: dict[str, list[Event]] = defaultdict(list)
    for e in msgs[::3]:
        out["insights"].append(
            {
                "insight_id": f"{run}-sent-{e['event_id']}",
                "customer_id": e["customer_id"],
                "event_id": e["event_id"],
                "model": SENTIMENT,
                "model_version": 1,
                "prediction": rnd.choice(["negative", "neutral", "positive"]),
                "confidence": rnd.random(),
                "explanation": {"top": ["late"]},
                "occurred_at": e["occurred_at"],
                "produced_at": now,
            }
        )
    for e in [e for e in events if e["type"] == "subscription"][::5]:
        out["insights"].append(
            {
                "insight_id": f"{run}-churn-{e['event_id']}",
                "customer_id": e["customer_id"],
                "event_id": e["event_id"],
                "model": CHURN,
                "model_version": 3,
                "prediction": rnd.random(),
                "occurred_at": e["occurred_at"],
                "produced_at": now,
            }
        )
    for e in inbound[::2]:
        draft_id = f"{run}-draft-{e['event_id']}"
        out["drafts"].append(
            {
                "draft_id": draft_id,
                "request_id": e["event_id"],
                "customer_id": e["customer_id"],
                "conversation_id": e["conversation_id"],
                "text": "Call us on +44 20 7946 0958.",
                "model": "gemma-3-270m",
                "prompt_version": "v1",
                "latency_ms": 80.5,
                "created_at": at(e, 5),
            }
        )
        if rnd.random() < 0.7:
            out["feedback"].append(
                {
                    "type": "draft_feedback",
                    "event_id": f"{run}-fb-{e['event_id']}",
                    "customer_id": e["customer_id"],
                    "occurred_at": at(e, 60),
                    "source": "agent-ui",
                    "draft_id": draft_id,
                    "verdict": rnd.choice(["accepted", "edited", "rejected"]),
                }
            )
    for e in events[:300]:  # 321 ms after the event: apart from the features agent's own
        out["features"].append(
            {
                "customer_id": e["customer_id"],
                "as_of": at(e, 0.321),
                "features": {"n": 1.5, MARKER: run, "flag": True},
            }
        )
    return out


async def produce_all(
    scope: Scope, events: list[Event], pub: dict[str, list[Event]], part: slice
) -> None:
    await produce(scope.topic("interactions"), keyed(events[part] + pub["feedback"][part]))
    for role, kind in (
        ("insights", "insights"),
        ("drafted_replies", "drafts"),
        ("features", "features"),
    ):
        await produce(scope.topic(role), keyed(pub[kind][part]))


async def test_values_that_do_not_fit_are_dead_lettered_not_a_crash(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(**QUIET)
    now = datetime.now(UTC)
    good = [
        {
            "type": "rating",
            "event_id": f"r{i}",
            "customer_id": f"c{i}",
            "source": "t",
            "occurred_at": (now - timedelta(seconds=i)).isoformat(),
            "score": 5,
        }
        for i in range(20)
    ]
    zero_time = {**good[0], "event_id": "zero", "occurred_at": "0001-01-01T00:00:00Z"}
    insight = {
        "insight_id": "big",
        "customer_id": "c1",
        "event_id": "r1",
        "model": "churn_risk",
        "model_version": 2**40,
        "prediction": 0.5,
        "occurred_at": now.isoformat(),
        "produced_at": now.isoformat(),
    }
    await produce(scope.topic("interactions"), keyed([*good[:10], zero_time, *good[10:]]))
    await produce(
        scope.topic("insights"),
        keyed([insight, {**insight, "insight_id": "ok", "model_version": 1}]),
    )
    # the scoring stage also scores the zero-time event: its insights carry year 1 too,
    # so each is dead-lettered like the event itself
    scored = await collect(scope.topic("insights"), 2, timeout=30, settle=5)
    zero_insights = sum(1 for r in scored if r.json().get("event_id") == "zero")
    assert zero_insights >= 1
    filters = {
        "interactions": "",
        "insights": "WHERE insight_id IN ('big', 'ok')",
        "dead_letters": "WHERE reason_code = 'column_overflow'",
    }
    want = {"interactions": 20, "insights": 1, "dead_letters": 2 + zero_insights}
    got = await wait_counts(worker, filters, want, timeout=60)
    assert got == want
    letters = sql(
        worker,
        "SELECT source_topic, reason FROM dead_letters "
        "WHERE reason_code = 'column_overflow' ORDER BY source_topic, reason",
    )
    by_topic = Counter(r["source_topic"] for r in letters)
    assert by_topic == {scope.topic("events"): 1, scope.topic("insights"): 1 + zero_insights}
    assert "interactions.occurred_at" in letters[0]["reason"]
    reasons = [r["reason"] for r in letters[1:]]
    assert (
        sum("insights.model_version = 1099511627776 does not fit UInt32" in r for r in reasons) == 1
    )
    assert sum("insights.occurred_at" in r for r in reasons) == zero_insights
    dlq = await collect(scope.topic("dlq"), 2 + zero_insights, timeout=30)
    originals = {orjson.loads(str(r.json()["payload"])).get("event_id") for r in dlq}
    assert originals == {"zero", "r1"}  # the original bytes, for reprocessing
    assert worker.alive()


async def test_erasure_then_replay_leaves_no_row_of_the_customer(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    t0 = datetime.now(UTC) - timedelta(hours=2)
    history = [
        {
            "type": "message",
            "event_id": f"{who}-{i}",
            "customer_id": who,
            "occurred_at": (t0 + timedelta(minutes=i)).isoformat(),
            "source": "t",
            "channel": "chat",
            "direction": ("inbound", "outbound")[i % 2],
            "conversation_id": f"conv-{who}",
            "text": f"I am {who}, mail {who}@x.io",
        }
        for who in ("alice", "bob")
        for i in range(15)
    ]
    pub = published(history, "h")
    tables = {
        "interactions": "",
        "insights": "",
        "drafts": "",
        "feature_snapshots": "",
        "draft_feedback": "",
        "dead_letters": "",
        "agg_conversations": "",
    }
    alice = {t: "WHERE customer_id = 'alice'" for t in tables}
    letter = [
        (
            b"alice",
            orjson.dumps(
                {"customer_id": "alice", "event_id": "bad", "occurred_at": t0.isoformat()}
            ),
        )
    ]
    await produce(scope.topic("interactions"), letter)
    await produce_all(scope, history, pub, slice(None))
    before = await wait_counts(
        worker,
        {"interactions": alice["interactions"]},
        {"interactions": 15 + sum(f["customer_id"] == "alice" for f in pub["feedback"])},
    )
    assert before["interactions"] > 15

    erasure = {
        "type": "erasure",
        "event_id": "erase-alice",
        "customer_id": "alice",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "privacy",
    }
    await produce(scope.topic("interactions"), keyed([erasure]))
    assert await wait_counts(worker, {"erasures": ""}, {"erasures": 1}, timeout=60) == {
        "erasures": 1
    }
    audit = sql(worker, "SELECT customer_hash, rows_deleted FROM erasures")
    assert "alice" not in str(audit) and audit[0]["rows_deleted"]["interactions"] > 0

    # a replay of alice's old events under new ids, and bob's as a sentinel
    again = [{**e, "event_id": f"again-{e['event_id']}"} for e in history]
    pub_again = published(again, "again")
    await produce(scope.topic("interactions"), letter)
    await produce_all(scope, again, pub_again, slice(None))
    bob = 2 * (15 + sum(f["customer_id"] == "bob" for f in pub["feedback"]))
    got = await wait_counts(
        worker, {"interactions": "WHERE customer_id = 'bob'"}, {"interactions": bob}
    )
    assert got == {"interactions": bob}
    # the drafting agent answers the replayed messages too: give it time to (soft wait)
    replayed = "WHERE customer_id = 'bob' AND startsWith(request_id, 'again-')"
    await wait_counts(worker, {"drafts": replayed}, timeout=30, until=lambda c: c["drafts"] > 0)
    assert await counts(worker, alice) == dict.fromkeys(tables, 0)
