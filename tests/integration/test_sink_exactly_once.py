"""Every row once with KPI views equal to a recomputation in Python; then through two SIGKILLs.

Replayed datasets (bitext, telco, synthetic) plus insights, drafts, feedback and feature
snapshots. The KPI test runs one worker; the exactly-once test SIGKILLs the worker once
right after an insert (before its offsets are committed) and once from outside while
rows land. Without ``streams.acks`` this lost whole fetch batches.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks.clickhouse.columns import epoch_ms
from streams.replay import source_records
from tests.integration.conftest import Scope
from tests.integration.test_sink import (
    CHURN,
    FAST_REJOIN,
    MARKER,
    QUIET,
    SENTIMENT,
    Event,
    produce_all,
    published,
    sql,
    wait_counts,
)
from tests.support.kafka_io import current_ends, produce, wait_committed
from tests.support.workers import WorkerProcess

BAD = 12
"""Records that are not JSON: dead-lettered by ingest."""


def bad_records(n: int) -> list[tuple[bytes | None, bytes | None]]:
    return [(b"x", b"not json %d" % i) for i in range(n)]


def table_filters(scope: Scope) -> dict[str, str]:
    return {
        "interactions": "",
        "draft_feedback": "",
        "insights": f"WHERE startsWith(insight_id, '{scope.name}-')",
        "drafts": f"WHERE startsWith(draft_id, '{scope.name}-')",
        "feature_snapshots": f"WHERE mapContains(categorical, '{MARKER}')",
        "dead_letters": f"WHERE source_topic = '{scope.topic('interactions')}'",
    }


def replay_records(scope: Scope) -> tuple[list[Event], dict[str, list[Event]], dict[str, int]]:
    """Datasets (bitext, telco, synthetic), what is published about them, and the rows expected."""
    events = [
        r.event
        for r in source_records(
            ["bitext", "telco", "synthetic"], seed=5, limit=900, start=None, tweets_path=None
        )
    ]
    pub = published(events, scope.name)
    want = {
        "interactions": len(events) + len(pub["feedback"]),
        "draft_feedback": len(pub["feedback"]),
        "insights": len(pub["insights"]),
        "drafts": len(pub["drafts"]),
        "feature_snapshots": len({(f["customer_id"], f["as_of"]) for f in pub["features"]}),
        "dead_letters": BAD,
    }
    return events, pub, want


async def test_kpi_views_equal_a_recomputation_from_the_same_records(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    """Every row once and KPI views exact on one worker; texts stored with PII redacted."""
    events, pub, want = replay_records(scope)
    worker = start_worker(**QUIET)
    await produce(scope.topic("interactions"), bad_records(BAD))
    await produce_all(scope, events, pub, slice(None))
    got = await wait_counts(worker, table_filters(scope), want, timeout=240)
    assert got == want, f"rows lost or doubled per table:\n{worker.log_tail(30)}"
    check_kpis(worker, events + pub["feedback"], pub)
    assert sql(worker, "SELECT text FROM drafts LIMIT 1") == [{"text": "Call us on [phone]."}]


async def test_two_sigkills_mid_stream_lose_nothing_and_duplicate_nothing(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    events, pub, want = replay_records(scope)
    n = len(events)

    # 1: the worker SIGKILLs itself after its 4th insert, before that batch is committed
    first = start_worker(
        **FAST_REJOIN,
        **QUIET,
        RAPPORT_CLICKHOUSE_FAULT_KILL_AFTER_BATCHES="4",
        RAPPORT_CLICKHOUSE_FLUSH_INTERVAL_S="0.3",
    )
    await produce(scope.topic("interactions"), bad_records(BAD))
    await produce_all(scope, events, pub, slice(0, int(n * 0.4)))
    assert first.proc is not None
    assert await asyncio.to_thread(first.proc.wait, 60) == -9
    assert "fault injection: SIGKILL" in first.log_tail(200)

    # 2: a worker SIGKILLed from outside while rows are landing
    second = start_worker(**FAST_REJOIN, **QUIET, RAPPORT_CLICKHOUSE_FLUSH_INTERVAL_S="0.3")
    await produce_all(scope, events, pub, slice(int(n * 0.4), int(n * 0.75)))
    await wait_counts(
        second, {"interactions": ""}, timeout=60, until=lambda got: got["interactions"] > n / 2
    )
    second.kill()
    await produce_all(scope, events, pub, slice(int(n * 0.75), None))

    third = start_worker(**FAST_REJOIN, **QUIET)
    got = await wait_counts(third, table_filters(scope), want, timeout=240)
    assert got == want, f"rows lost or doubled per table:\n{third.log_tail(30)}"
    # and every record read is committed: consumer lag back to zero, none held back
    for role in ("interactions", "events", "features", "insights", "drafted_replies", "dlq"):
        ends = await current_ends(scope.topic(role))
        await wait_committed(scope.env()["RAPPORT_APP_ID"], ends, timeout=60)
    # each restarted worker was handed its partitions' records in order from its committed
    # offsets, none skipped by the seek that ends its recovery (the feature agent reports
    # a skip it had to read back from Kafka itself)
    for worker in (second, third):
        assert "reading the gap" not in worker.log_tail(100_000), worker.log_tail(40)


def check_kpis(worker: WorkerProcess, events: list[Event], pub: dict[str, list[Event]]) -> None:
    """Every KPI view equals a recomputation in Python from the same records."""
    expect = kpis(events, pub)
    volume = {
        (r["hour"], r["type"], r["channel"], r["direction"]): int(r["events"])
        for r in sql(worker, "SELECT * FROM kpi_volume_hourly")
    }
    assert volume == expect["volume"]
    for view, key in (
        ("satisfaction", ("day",)),
        ("first_response", ("day", "channel")),
        ("churn_risk", ("day", "model", "decile")),
        ("sentiment", ("day", "model", "label")),
        ("draft_acceptance", ("day",)),
        ("load_reduction", ("day",)),
    ):
        mine = f"WHERE model IN ('{SENTIMENT}', '{CHURN}')" if "model" in key else ""
        rows = sql(worker, f"SELECT * FROM kpi_{view}_daily {mine}")
        got = {tuple(str(r[k]) for k in key): _numbers(r, key) for r in rows}
        assert set(got) == set(expect[view]), view
        for k, values in expect[view].items():
            assert got[k] == pytest.approx(values, rel=1e-9, nan_ok=True), (view, k)


def _numbers(row: dict[str, Any], key: tuple[str, ...]) -> dict[str, float]:
    return {k: math.nan if v is None else float(v) for k, v in row.items() if k not in key}


def _day(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(UTC).strftime("%Y-%m-%d 00:00:00")


def kpis(events: list[Event], pub: dict[str, list[Event]]) -> dict[str, dict[Any, Any]]:
    out: dict[str, dict[Any, Any]] = {}
    out["volume"] = dict(
        Counter(
            (
                datetime.fromisoformat(e["occurred_at"])
                .astimezone(UTC)
                .strftime("%Y-%m-%d %H:00:00"),
                e["type"],
                e.get("channel", ""),
                e.get("direction", ""),
            )
            for e in events
        )
    )
    ratings: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e["type"] == "rating":
            ratings[_day(e["occurred_at"])].append(e["score"])
    out["satisfaction"] = {
        (d,): {
            "ratings": len(s),
            "avg_score": sum(s) / len(s),
            "csat": sum(x >= 4 for x in s) / len(s),
        }
        for d, s in ratings.items()
    }
    out["first_response"] = _first_response(events)
    out["churn_risk"] = _counted(
        pub["insights"], "churn", lambda i: min(max(math.floor(i["prediction"] * 10), 0), 9)
    )
    sentiment = _counted(pub["insights"], "sentiment", lambda i: i["prediction"])
    totals: Counter[tuple[str, str]] = Counter()
    for (d, m, _), v in sentiment.items():
        totals[(d, m)] += int(v["insights"])
    out["sentiment"] = {
        k: {"insights": v["insights"], "share": v["insights"] / totals[k[:2]]}
        for k, v in sentiment.items()
    }
    out["draft_acceptance"] = _acceptance(events)
    out["load_reduction"] = _load_reduction(events, pub)
    return out


def _counted(insights: list[Event], model: str, bucket: Callable[[Event], Any]) -> dict[Any, Any]:
    found: Counter[tuple[str, str, str]] = Counter(
        (_day(i["occurred_at"]), i["model"], str(bucket(i)))
        for i in insights
        if i["model"].startswith(model)
    )
    if model == "churn":
        return {
            k: {"risk_from": int(k[2]) / 10, "risk_to": (int(k[2]) + 1) / 10, "insights": n}
            for k, n in found.items()
        }
    return {k: {"insights": n} for k, n in found.items()}


def _first_response(events: list[Event]) -> dict[Any, Any]:
    convs: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        if e["type"] != "message" or not e.get("conversation_id"):
            continue
        c = convs.setdefault(
            (e["customer_id"], e["conversation_id"]),
            {"channel": e["channel"], "inbound": None, "outbound": None},
        )
        when = epoch_ms(datetime.fromisoformat(e["occurred_at"]))
        prev = c[e["direction"]]
        c[e["direction"]] = when if prev is None else min(prev, when)
    groups: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for c in convs.values():
        fi, fo = c["inbound"], c["outbound"]
        if fi is None or (fo is not None and fo < fi):
            continue
        day = datetime.fromtimestamp(fi / 1000, UTC).strftime("%Y-%m-%d 00:00:00")
        groups[(day, c["channel"])].append(None if fo is None else (fo - fi) / 1000)
    out = {}
    for key, values in groups.items():
        answered = sorted(v for v in values if v is not None)
        out[key] = {
            "conversations": len(values),
            "answered": len(answered),
            "avg_first_response_s": sum(answered) / len(answered) if answered else math.nan,
            "median_first_response_s": answered[len(answered) // 2] if answered else math.nan,
        }
    return out


def _acceptance(events: list[Event]) -> dict[Any, Any]:
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e["type"] == "draft_feedback":
            verdicts[_day(e["occurred_at"])][e["verdict"]] += 1
    return {
        (d,): {
            "feedback": c.total(),
            "accepted": c["accepted"],
            "edited": c["edited"],
            "rejected": c["rejected"],
            "acceptance_rate": c["accepted"] / c.total(),
        }
        for d, c in verdicts.items()
    }


def _load_reduction(events: list[Event], pub: dict[str, list[Event]]) -> dict[Any, Any]:
    accepted = {f["draft_id"] for f in pub["feedback"] if f["verdict"] == "accepted"}
    answered = {d["request_id"] for d in pub["drafts"] if d["draft_id"] in accepted}
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        if e["type"] == "message" and e["direction"] == "inbound":
            day = days[_day(e["occurred_at"])]
            day[0] += 1
            day[1] += e["event_id"] in answered
    return {
        (d,): {"inbound_messages": i, "answered_with_accepted_draft": a, "load_reduction": a / i}
        for d, (i, a) in days.items()
    }
