"""Prometheus metric families shared by every agent (served on ``/metrics``)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("rapport_events_in_total", "Records consumed, per agent", ["agent"])
EVENTS_OUT = Counter(
    "rapport_events_out_total", "Records produced, per agent and topic", ["agent", "topic"]
)
DEAD_LETTERS = Counter(
    "rapport_dead_letters_total", "Dead-lettered inputs by reason code", ["reason_code"]
)
DEAD_LETTER_FAILURES = Counter(
    "rapport_dead_letter_failures_total",
    "Records Kafka refused even as a dead letter (logged with offset)",
)
DUPLICATES = Counter("rapport_duplicates_dropped_total", "Events dropped as duplicate event_id")
REKEYED = Counter("rapport_rekeyed_total", "Events that arrived without a key and were re-keyed")
AGENT_ERRORS = Counter(
    "rapport_agent_errors_total", "Unexpected errors caught in an agent", ["agent"]
)
DEDUP_ENTRIES = Gauge("rapport_dedup_entries", "Event ids held in the dedup table (this worker)")
DEDUP_HORIZON = Gauge(
    "rapport_dedup_horizon_seconds",
    "Age of the oldest event ids the dedup index still holds (this worker)",
)
INGEST_LATENCY = Histogram(
    "rapport_ingest_latency_seconds",
    "Event time to ingest forward (wall clock)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600),
)
CONSUMER_LAG_MESSAGES = Gauge(
    "rapport_consumer_lag_messages", "End offset minus committed offset", ["topic", "partition"]
)
CONSUMER_LAG_SECONDS = Gauge(
    "rapport_consumer_lag_seconds", "Age of the oldest unprocessed record", ["topic", "partition"]
)
CONSUMER_LAG_EVENT_SECONDS = Gauge(
    "rapport_consumer_lag_event_seconds",
    "Age by event time (occurred_at) of the oldest unprocessed record",
    ["topic", "partition"],
)
REBALANCES = Counter("rapport_rebalances_total", "Partition assignments received by this worker")
ASSIGNED_PARTITIONS = Gauge("rapport_assigned_partitions", "Partitions assigned to this worker")
STAGE_LATENCY = Histogram(
    "rapport_stage_latency_seconds",
    "Event time to a pipeline stage (wall clock): features (applied to the customer's "
    "state), insight (published), sink (the event's interactions row written), draft "
    "(published)",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
# children bound once: the hot paths only call ``observe``
FEATURES_STAGE: Final = STAGE_LATENCY.labels("features")
INSIGHT_STAGE: Final = STAGE_LATENCY.labels("insight")
SINK_STAGE: Final = STAGE_LATENCY.labels("sink")
DRAFT_STAGE: Final = STAGE_LATENCY.labels("draft")
TABLE_KEYS = Gauge(
    "rapport_table_keys",
    "Keys of a table in this worker's active partitions (refreshed by a timer)",
    ["table"],
)


def since(occurred_at: datetime) -> float:
    """Seconds from an aware ``occurred_at`` to now; 0 for a time in the future (skew).

    >>> from datetime import UTC, timedelta
    >>> 59 < since(datetime.now(UTC) - timedelta(minutes=1)) < 61
    True
    >>> since(datetime.now(UTC) + timedelta(minutes=1))
    0.0
    """
    return max(0.0, time.time() - occurred_at.timestamp())
