"""Contract and behaviour tests of the replay sources (no Kafka).

Tweets.csv is read from the shared data folder (it is licensed non-commercial and
never vendored): if it is missing these tests fail, they do not skip.
"""

from __future__ import annotations

import csv
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.events import SCHEMA_VERSION, parse_event
from streams.replay import (
    CHURN_HORIZON,
    SOURCES,
    ReplayError,
    ReplayRecord,
    bitext_references,
    merge,
    synthetic,
)
from streams.replay.base import DATA_DIR, to_id

TWEETS = Path("/work/shared/data/Tweets.csv")
N = 2_000
TEXT_SOURCES = {"tweets": "sentiment", "bitext": "intent", "banking77": "intent"}
LABEL_DELAY = {"tweets": (5, 120), "bitext": (1, 10), "banking77": (1, 10)}


def tweets_file() -> Path:
    """The shared Tweets.csv; its absence fails the test (it must not skip silently)."""
    if not TWEETS.is_file():
        pytest.fail(f"{TWEETS} is missing: the tweets replay tests need the shared dataset")
    return TWEETS


def run(name: str, *, seed: int = 1, limit: int | None = N) -> list[ReplayRecord]:
    path = tweets_file() if name == "tweets" else None
    return list(SOURCES[name](path, seed=seed, limit=limit))


def column(path: Path, name: str) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row[name] for row in csv.DictReader(handle)]


def labels_by_message(records: list[ReplayRecord]) -> dict[str, ReplayRecord]:
    return {r.event["message_event_id"]: r for r in records if r.event["type"] == "label"}


# --- the contract every source keeps ---------------------------------------------


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_events_validate_and_carry_their_key(name: str) -> None:
    records = run(name)
    assert len(records) == N
    for record in records:
        event = record.event
        assert orjson.loads(orjson.dumps(event)) == event  # plain JSON types only
        parsed = parse_event(orjson.dumps(event))
        assert parsed.customer_id == record.customer_id == event["customer_id"]
        assert parsed.occurred_at == record.at
        assert record.at.utcoffset() is not None
        assert (parsed.source, parsed.schema_version) == (name, SCHEMA_VERSION)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_ids_unique_and_deterministic_by_seed(name: str) -> None:
    first, again, other = (run(name, seed=s) for s in (1, 1, 2))
    ids = [r.event["event_id"] for r in first]
    assert len(set(ids)) == len(ids)
    assert first == again
    assert [(r.at, r.event) for r in first] != [(r.at, r.event) for r in other]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_records_come_in_event_time_order(name: str) -> None:
    records = run(name)
    assert all(a.at <= b.at for a, b in pairwise(records))


def test_event_ids_unique_across_sources_and_merge_keeps_time_order() -> None:
    streams = [iter(run(name, limit=500)) for name in sorted(SOURCES)]
    merged = list(merge(*streams))
    assert len(merged) == 500 * len(SOURCES)
    assert len({r.event["event_id"] for r in merged}) == len(merged)
    assert all(a.at <= b.at for a, b in pairwise(merged))


def test_same_ids_whatever_the_seed_for_datasets() -> None:
    for name in ("tweets", "bitext", "banking77", "telco"):
        ids = [{r.event["event_id"] for r in run(name, seed=s, limit=None)} for s in (1, 9)]
        assert ids[0] == ids[1], name


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="not found"):
        SOURCES["bitext"](tmp_path / "absent.csv")


# --- labelled text sources -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEXT_SOURCES))
def test_labels_follow_their_message(name: str) -> None:
    records = run(name)
    messages = {r.event["event_id"]: r for r in records if r.event["type"] == "message"}
    labels = labels_by_message(records)
    assert messages and labels
    low, high = LABEL_DELAY[name]
    for message_id, label in labels.items():
        message = messages[message_id]  # a label never precedes its message
        assert label.customer_id == message.customer_id
        assert label.event["kind"] == TEXT_SOURCES[name]
        assert timedelta(minutes=low) <= label.at - message.at <= timedelta(minutes=high)
        assert message.event["direction"] == "inbound"


@pytest.mark.parametrize(
    ("name", "path", "value_column"),
    [
        ("tweets", TWEETS, "airline_sentiment"),
        ("bitext", DATA_DIR / "Bitext_Sample_Customer_Support_Training_Dataset.csv", "intent"),
        ("banking77", DATA_DIR / "banking77_train.csv", "category"),
    ],
)
def test_every_row_replayed_once_with_its_label(name: str, path: Path, value_column: str) -> None:
    records = run(name, limit=None)
    expected = column(path, value_column)
    messages = [r for r in records if r.event["type"] == "message"]
    labels = labels_by_message(records)
    assert len(messages) == len(labels) == len(expected)
    assert Counter(r.event["value"] for r in labels.values()) == Counter(expected)
    assert labels[f"{name}-0-message"].event["value"] == expected[0]


def test_tweets_keep_real_times_and_authors() -> None:
    records = run("tweets", limit=None)
    first = records[0].event
    assert first["occurred_at"] == "2015-02-16T23:36:05-08:00"
    assert first["channel"] == "social"
    authors = {to_id(name, fallback="?") for name in column(tweets_file(), "name")}
    assert {r.customer_id for r in records} == authors
    assert "Late_Flightncy" in authors  # a name with a space, sanitised


def test_tweets_start_shifts_the_timeline() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    real = run("tweets", limit=50)
    shifted = list(SOURCES["tweets"](tweets_file(), seed=1, limit=50, start=start))
    assert shifted[0].at == start
    assert [b.at - a.at for a, b in pairwise(shifted)] == [b.at - a.at for a, b in pairwise(real)]


def test_bitext_references_match_message_ids() -> None:
    references = bitext_references()
    path = DATA_DIR / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    responses = column(path, "response")
    assert len(references) == len(responses) == 4_514
    assert references["bitext-0-message"] == responses[0]
    ids = {r.event["event_id"] for r in SOURCES["bitext"](seed=3, limit=None)}
    assert set(references) <= ids


# --- telco -----------------------------------------------------------------------


def test_telco_outcomes_match_the_churn_column() -> None:
    records = list(SOURCES["telco"](seed=5, limit=None))
    churn = Counter(column(DATA_DIR / "Telco-Customer-Churn.csv", "Churn"))
    actions = Counter(r.event["action"] for r in records)
    assert churn["Yes"] == 1_869
    assert actions == {"started": 7_043, "cancelled": churn["Yes"], "retained": churn["No"]}
    started = {r.customer_id: r for r in records if r.event["action"] == "started"}
    for record in records:
        if record.event["action"] != "started":
            assert record.at - started[record.customer_id].at == CHURN_HORIZON


def test_telco_started_fields() -> None:
    starts = [r.event for r in SOURCES["telco"](limit=None) if r.event["action"] == "started"]
    first = starts[0]
    assert first["customer_id"] == "7590-VHVEG"
    assert (first["plan"], first["monthly_charges"], first["tenure_months"]) == (
        "Month-to-month",
        29.85,
        1,
    )
    assert not any({"Churn", "customerID"} & e["attributes"].keys() for e in starts)
    assert sum("TotalCharges" not in e["attributes"] for e in starts) == 11


# --- synthetic -------------------------------------------------------------------


def test_synthetic_yields_exactly_limit_lazily() -> None:
    assert len(list(synthetic(seed=1, limit=12_345))) == 12_345
    assert list(synthetic(seed=1, limit=0)) == []
    endless = synthetic(seed=1, limit=None)
    assert isinstance(endless, Iterator)
    assert len(list(islice(endless, 10))) == 10
    tracemalloc.start()
    try:
        drained = sum(1 for _ in synthetic(seed=2, limit=60_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert drained == 60_000
    assert peak < 10_000_000  # holding 60k events would take about 60 MB


def test_synthetic_customers_are_skewed() -> None:
    counts = Counter(r.customer_id for r in synthetic(seed=4, limit=50_000, n_customers=10_000))
    top_1_percent = sum(n for _, n in counts.most_common(100))
    assert top_1_percent > 0.10 * 50_000
    assert len(counts) > 1_000  # and a long tail


def test_synthetic_can_reuse_other_sources_customers() -> None:
    pool = ["7590-VHVEG", "5575-GNVDE", "jnardino", "cairdin"]
    assert {r.customer_id for r in synthetic(seed=1, limit=2_000, customers=pool)} == set(pool)
    with pytest.raises(ReplayError):
        synthetic(customers=["bad id"])


def test_synthetic_disorder_and_late_events() -> None:
    ordered = list(synthetic(seed=6, limit=20_000))
    shifted = list(synthetic(seed=6, limit=20_000, disorder=0.05, late=0.01))
    assert [r.event["event_id"] for r in shifted] == [r.event["event_id"] for r in ordered]
    backwards = [b.at - a.at for a, b in pairwise(shifted) if b.at < a.at]
    assert 0.02 * 20_000 < len(backwards) < 0.12 * 20_000
    assert any(gap < -timedelta(hours=1) for gap in backwards)  # late events
    late = sum(o.at - s.at > timedelta(hours=1) for o, s in zip(ordered, shifted, strict=True))
    assert 0.005 * 20_000 < late < 0.02 * 20_000
    assert all(parse_event(orjson.dumps(r.event)).occurred_at == r.at for r in shifted[:2_000])


def test_synthetic_daily_rhythm() -> None:
    hours = Counter(r.at.hour for r in synthetic(seed=7, limit=50_000, sessions_per_hour=100))
    day = sum(hours[h] for h in range(9, 21)) / 12
    night = sum(hours[h] for h in range(0, 6)) / 6
    assert day > 3 * night


def events_of(records: list[ReplayRecord], kind: str) -> list[dict[str, Any]]:
    return [r.event for r in records if r.event["type"] == kind]


def test_synthetic_commerce_is_consistent() -> None:
    records = list(synthetic(seed=8, limit=30_000))
    orders = events_of(records, "order")
    assert orders
    for order in orders:
        total = sum(item["quantity"] * item["unit_price"] for item in order["items"])
        assert order["amount"] == pytest.approx(total, abs=0.006)
        assert order["currency"] == "USD"
    carts = Counter(e["action"] for e in events_of(records, "cart"))
    checked_out = {e["cart_id"] for e in events_of(records, "cart") if e["action"] == "checkout"}
    added = {e["cart_id"] for e in events_of(records, "cart") if e["action"] == "add"}
    assert carts["remove"] > 0
    assert added - checked_out  # some carts are abandoned
    views = events_of(records, "page_view")
    assert Counter(e["session_id"] for e in views).most_common(1)[0][1] > 1
    assert sum("product_id" in e for e in views) > len(views) / 2


def test_synthetic_support_threads_are_consistent() -> None:
    records = list(synthetic(seed=9, limit=30_000))
    inbound: dict[str, datetime] = {}
    replies = 0
    for record in records:
        event = record.event
        if event["type"] == "message" and event["direction"] == "inbound":
            inbound.setdefault(event["conversation_id"], record.at)
        elif event["type"] == "message":
            assert event["agent_id"]
            assert inbound[event["conversation_id"]] < record.at  # replies follow a question
            replies += 1
    tickets = events_of(records, "ticket")
    opened = [e["ticket_id"] for e in tickets if e["action"] == "opened"]
    closed = [e["ticket_id"] for e in tickets if e["action"] == "closed"]
    assert replies and closed and set(closed) <= set(opened)
    scores = Counter(e["score"] for e in events_of(records, "rating"))
    assert set(scores) == {1, 2, 3, 4, 5}
    assert any("comment" in e for e in events_of(records, "rating"))


@pytest.mark.parametrize(
    "options",
    [{"path": "x.csv"}, {"disorder": 1.5}, {"late": -0.1}, {"limit": -1}, {"n_customers": 0}],
)
def test_synthetic_rejects_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ReplayError):
        synthetic(**options)
