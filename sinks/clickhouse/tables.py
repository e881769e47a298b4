"""The tables the ClickHouse sink writes, column by column, in insert order.

The DDL lives in ``sinks/migrations`` (versioned, never edited once applied); a unit
test checks that these specs and the migrated tables agree. ``inserted_at`` columns
default to the insert time and are not sent.

>>> TABLES["insights"].index("customer_id"), TABLES["drafts"].time_column
(1, 'created_at')
"""

from __future__ import annotations

from typing import Any, Final

from sinks.clickhouse.columns import DT64, Column, TableSpec


def _spec(
    name: str, columns: str, customer: str | None, time: str | None, **erasure: Any
) -> TableSpec:
    cols = []
    for item in columns.strip().split("\n"):
        col_name, col_type = item.strip().split(" ", 1)
        cols.append(Column(col_name, col_type.replace("DT64", DT64)))
    return TableSpec(name, tuple(cols), customer, time, **erasure)


INTERACTIONS = _spec(
    "interactions",
    """
    event_id String
    customer_id String
    type LowCardinality(String)
    occurred_at DT64
    source LowCardinality(String)
    schema_version LowCardinality(String)
    channel LowCardinality(String)
    direction LowCardinality(String)
    conversation_id String
    agent_id String
    text String
    text_length UInt32
    ticket_id String
    action LowCardinality(String)
    priority LowCardinality(String)
    tags Array(LowCardinality(String))
    score Nullable(UInt8)
    amount Nullable(Float64)
    currency LowCardinality(String)
    order_id String
    product_id String
    details String
    kafka_partition UInt32
    kafka_offset UInt64""",
    "customer_id",
    "occurred_at",
)

DRAFT_FEEDBACK = _spec(
    "draft_feedback",
    """
    event_id String
    draft_id String
    customer_id String
    verdict LowCardinality(String)
    agent_id String
    final_text String
    occurred_at DT64
    kafka_partition UInt32
    kafka_offset UInt64""",
    "customer_id",
    "occurred_at",
)

FEATURE_SNAPSHOTS = _spec(
    "feature_snapshots",
    """
    customer_id String
    as_of DT64
    numeric Map(String, Float64)
    categorical Map(String, String)
    schema_version LowCardinality(String)
    kafka_partition UInt32
    kafka_offset UInt64""",
    "customer_id",
    "as_of",
)

INSIGHTS = _spec(
    "insights",
    """
    insight_id String
    customer_id String
    event_id String
    model LowCardinality(String)
    model_version UInt32
    prediction String
    score Nullable(Float64)
    confidence Nullable(Float64)
    explanation String
    occurred_at DT64
    produced_at DT64
    kafka_partition UInt32
    kafka_offset UInt64""",
    "customer_id",
    "occurred_at",
)

DRAFTS = _spec(
    "drafts",
    """
    draft_id String
    request_id String
    customer_id String
    conversation_id String
    text String
    text_length UInt32
    model LowCardinality(String)
    prompt_version LowCardinality(String)
    latency_ms Float64
    prompt_tokens UInt32
    completion_tokens UInt32
    estimated_cost_usd Float64
    flags Array(LowCardinality(String))
    fallback Bool
    created_at DT64
    kafka_partition UInt32
    kafka_offset UInt64
    intent LowCardinality(String)
    mode LowCardinality(String)
    kind LowCardinality(String)
    attempts UInt16""",
    "customer_id",
    "created_at",
    request_column="request_id",  # drafted now from a replayed old message: refused too
)

DEAD_LETTERS = _spec(
    "dead_letters",
    """
    source_topic LowCardinality(String)
    source_partition UInt32
    source_offset UInt64
    key String
    customer_id String
    reason_code LowCardinality(String)
    reason String
    payload String
    payload_encoding LowCardinality(String)
    occurred_at DT64
    dead_lettered_at DT64""",
    "customer_id",
    "occurred_at",
    erase_any_time=True,  # a refused record's own time is often unknown
)

MODEL_METRICS = _spec(
    "model_metrics",
    """
    model LowCardinality(String)
    model_version UInt32
    metric LowCardinality(String)
    segment LowCardinality(String)
    source_partition UInt32
    value Float64
    examples UInt64
    at DT64""",
    None,
    None,
)

ERASURES = _spec(
    "erasures",
    """
    event_id String
    customer_hash String
    requested_at DT64
    executed_at DT64
    reason String
    rows_deleted Map(String, UInt64)""",
    None,
    None,
)

TABLES: Final[dict[str, TableSpec]] = {
    t.name: t
    for t in (
        INTERACTIONS,
        DRAFT_FEEDBACK,
        FEATURE_SNAPSHOTS,
        INSIGHTS,
        DRAFTS,
        DEAD_LETTERS,
        MODEL_METRICS,
        ERASURES,
    )
}
ERASABLE: Final[tuple[str, ...]] = (
    *(t.name for t in TABLES.values() if t.customer_column),
    "agg_conversations",
)
"""Every table holding a customer's rows (``customer_id``): an erasure deletes from each."""
