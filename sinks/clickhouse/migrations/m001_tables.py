"""Migration 1: the base tables, one per record kind, shaped for analysts' questions.

Every base table is a ``ReplacingMergeTree`` whose sorting key ends in the record's
stable id, so a record written twice (redelivery after a crash) collapses to one row:
read with ``FINAL`` (``rapport sql`` sets ``final = 1``). Inserts also carry a
deduplication token (``non_replicated_deduplication_window``): the very same batch
retried is dropped at insert time, and its materialized views do not see it twice.
"""

from __future__ import annotations

from typing import Final

DT = "DateTime64(3, 'UTC')"
INSERTED = f"inserted_at {DT} DEFAULT now64(3)"
DEDUP = "SETTINGS non_replicated_deduplication_window = 10000"

STATEMENTS: Final = (
    # every validated event; a customer's timeline is a range scan
    f"""CREATE TABLE IF NOT EXISTS interactions (
        event_id String, customer_id String, type LowCardinality(String),
        occurred_at {DT}, source LowCardinality(String), schema_version LowCardinality(String),
        channel LowCardinality(String), direction LowCardinality(String),
        conversation_id String, agent_id String,
        text String COMMENT 'redacted: e-mails, phones, cards, IBANs masked',
        text_length UInt32 COMMENT 'length of the original text',
        ticket_id String, action LowCardinality(String), priority LowCardinality(String),
        tags Array(LowCardinality(String)), score Nullable(UInt8), amount Nullable(Float64),
        currency LowCardinality(String), order_id String, product_id String,
        details String COMMENT 'JSON: the type-specific fields without a column',
        kafka_partition UInt32, kafka_offset UInt64, {INSERTED}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(occurred_at)
    ORDER BY (customer_id, occurred_at, event_id) {DEDUP}""",
    # agents' verdicts on drafts, joined to drafts by draft_id
    f"""CREATE TABLE IF NOT EXISTS draft_feedback (
        event_id String, draft_id String, customer_id String, verdict LowCardinality(String),
        agent_id String, final_text String COMMENT 'redacted', occurred_at {DT},
        kafka_partition UInt32, kafka_offset UInt64, {INSERTED}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(occurred_at)
    ORDER BY (draft_id, event_id) {DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS feature_snapshots (
        customer_id String, as_of {DT}, numeric Map(String, Float64),
        categorical Map(String, String), schema_version LowCardinality(String),
        kafka_partition UInt32, kafka_offset UInt64, {INSERTED}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(as_of)
    ORDER BY (customer_id, as_of) {DEDUP}""",
    # insights and predictions: per model, then per customer over event time
    f"""CREATE TABLE IF NOT EXISTS insights (
        insight_id String, customer_id String, event_id String, model LowCardinality(String),
        model_version UInt32, prediction String,
        score Nullable(Float64) COMMENT 'the prediction when it is a number',
        confidence Nullable(Float64), explanation String COMMENT 'JSON',
        occurred_at {DT}, produced_at {DT}, kafka_partition UInt32, kafka_offset UInt64,
        {INSERTED}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(occurred_at)
    ORDER BY (model, customer_id, occurred_at, insight_id) {DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS drafts (
        draft_id String, request_id String COMMENT 'the inbound message event_id',
        customer_id String, conversation_id String, text String COMMENT 'redacted',
        text_length UInt32, model LowCardinality(String), prompt_version LowCardinality(String),
        latency_ms Float64, prompt_tokens UInt32, completion_tokens UInt32,
        estimated_cost_usd Float64, flags Array(LowCardinality(String)), fallback Bool,
        created_at {DT}, kafka_partition UInt32, kafka_offset UInt64, {INSERTED}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(created_at)
    ORDER BY (customer_id, created_at, draft_id) {DEDUP}""",
    # keyed by the refused record's position; not partitioned by time, since a dead
    # letter sent again after a crash carries a new dead_lettered_at
    f"""CREATE TABLE IF NOT EXISTS dead_letters (
        source_topic LowCardinality(String), source_partition UInt32, source_offset UInt64,
        key String, customer_id String, reason_code LowCardinality(String), reason String,
        payload String COMMENT 'redacted when text; cut at 64 KiB', payload_encoding
        LowCardinality(String), occurred_at {DT}, dead_lettered_at {DT}, {INSERTED}
    ) ENGINE = ReplacingMergeTree
    ORDER BY (source_topic, source_partition, source_offset) {DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS model_metrics (
        model LowCardinality(String), model_version UInt32, metric LowCardinality(String),
        value Float64, at {DT}, {INSERTED}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY (model, metric, at, model_version) {DEDUP}""",
    # the erasure audit: a hash of the customer id, never the id
    f"""CREATE TABLE IF NOT EXISTS erasures (
        event_id String, customer_hash String COMMENT 'sha256 of the customer id',
        requested_at {DT}, executed_at {DT}, reason String,
        rows_deleted Map(String, UInt64)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (customer_hash, event_id) {DEDUP}""",
)
