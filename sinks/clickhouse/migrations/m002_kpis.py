"""Migration 2: KPI materialized views by hour, and ``kpi_*_hourly`` / ``kpi_*_daily`` views.

Materialized views fire on every insert, replays and redeliveries included, so each
``agg_*`` table keeps only duplicate-proof states: ``uniqExact`` of the stable id
(a record counted twice is counted once) and ``min`` (idempotent). The ``kpi_*``
views merge those states; daily views re-aggregate the hourly states. Buckets are
by event time (UTC).

Rules: first-response time of a conversation is its first outbound message minus
its first inbound one, for conversations that start inbound; satisfaction is the
1-5 rating (CSAT = share of 4 and 5); churn risk is an insight of a ``churn*``
model, its numeric prediction (else its confidence), in deciles; sentiment mix
counts ``sentiment*`` insights by predicted label; draft acceptance is accepted
feedback over all feedback. Agent load reduction (inbound messages whose draft was
accepted) joins three record kinds arriving at different times, which a
materialized view (fired by one table's inserts) cannot see together: it is a view
over the deduplicated base tables. Aggregates keep no customer ids except
``agg_conversations``, which an erasure cleans like a base table.
"""

from __future__ import annotations

from typing import Final

AGG = "ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(hour)"
IDS = "AggregateFunction(uniqExact, String)"
DT = "DateTime64(3, 'UTC')"


def _views(name: str, select: str, column: str = "hour") -> tuple[str, str]:
    """``kpi_{name}_hourly`` and ``_daily`` from one SELECT with ``{bucket}`` and ``{label}``."""
    out = []
    for label, fn in (("hour", "toStartOfHour"), ("day", "toStartOfDay")):
        bucket = f"{fn}(assumeNotNull({column}))"
        period = "hourly" if label == "hour" else "daily"
        out.append(
            f"CREATE VIEW IF NOT EXISTS kpi_{name}_{period} AS "
            + select.format(bucket=bucket, label=label)
        )
    return out[0], out[1]


VOLUME = (
    f"""CREATE TABLE IF NOT EXISTS agg_volume_hourly (
        hour DateTime('UTC'), type LowCardinality(String), channel LowCardinality(String),
        direction LowCardinality(String), events {IDS}
    ) {AGG} ORDER BY (hour, type, channel, direction)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS mv_volume_hourly TO agg_volume_hourly AS
    SELECT toStartOfHour(occurred_at) AS hour, type, channel, direction,
           uniqExactState(event_id) AS events
    FROM interactions GROUP BY hour, type, channel, direction""",
    *_views(
        "volume",
        """SELECT {bucket} AS {label}, type, channel, direction,
        uniqExactMerge(events) AS events
    FROM agg_volume_hourly GROUP BY {label}, type, channel, direction""",
    ),
)

SATISFACTION = (
    f"""CREATE TABLE IF NOT EXISTS agg_satisfaction_hourly (
        hour DateTime('UTC'), score UInt8, ratings {IDS}
    ) {AGG} ORDER BY (hour, score)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS mv_satisfaction_hourly TO agg_satisfaction_hourly AS
    SELECT toStartOfHour(occurred_at) AS hour, assumeNotNull(score) AS score,
           uniqExactState(event_id) AS ratings
    FROM interactions WHERE type = 'rating' AND score IS NOT NULL GROUP BY hour, score""",
    *_views(
        "satisfaction",
        """SELECT {bucket} AS {label}, sum(n) AS ratings,
        sum(score * n) / ratings AS avg_score, sumIf(n, score >= 4) / ratings AS csat
    FROM (SELECT hour, score, uniqExactMerge(ratings) AS n
          FROM agg_satisfaction_hourly GROUP BY hour, score)
    GROUP BY {label}""",
    ),
)

FIRST_RESPONSE = (
    f"""CREATE TABLE IF NOT EXISTS agg_conversations (
        customer_id String, conversation_id String,
        channel SimpleAggregateFunction(any, LowCardinality(String)),
        first_inbound SimpleAggregateFunction(min, Nullable({DT})),
        first_outbound SimpleAggregateFunction(min, Nullable({DT}))
    ) ENGINE = AggregatingMergeTree ORDER BY (customer_id, conversation_id)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS mv_conversations TO agg_conversations AS
    SELECT customer_id, conversation_id, any(channel) AS channel,
           minIf(toNullable(occurred_at), direction = 'inbound') AS first_inbound,
           minIf(toNullable(occurred_at), direction = 'outbound') AS first_outbound
    FROM interactions WHERE type = 'message' AND conversation_id != ''
    GROUP BY customer_id, conversation_id""",
    *_views(
        "first_response",
        """SELECT {bucket} AS {label}, channel,
        count() AS conversations, countIf(first_outbound IS NOT NULL) AS answered,
        avgIf(dateDiff('millisecond', first_inbound, first_outbound) / 1000,
              first_outbound IS NOT NULL) AS avg_first_response_s,
        quantileExactIf(0.5)(dateDiff('millisecond', first_inbound, first_outbound) / 1000,
              first_outbound IS NOT NULL) AS median_first_response_s
    FROM (SELECT customer_id, conversation_id, any(channel) AS channel,
                 min(first_inbound) AS first_inbound, min(first_outbound) AS first_outbound
          FROM agg_conversations GROUP BY customer_id, conversation_id)
    WHERE first_inbound IS NOT NULL
      AND (first_outbound IS NULL OR first_outbound >= first_inbound)
    GROUP BY {label}, channel""",
        column="first_inbound",
    ),
)

SENTIMENT = (
    f"""CREATE TABLE IF NOT EXISTS agg_sentiment_hourly (
        hour DateTime('UTC'), model LowCardinality(String), label LowCardinality(String),
        insights {IDS}
    ) {AGG} ORDER BY (hour, model, label)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS mv_sentiment_hourly TO agg_sentiment_hourly AS
    SELECT toStartOfHour(occurred_at) AS hour, model, prediction AS label,
           uniqExactState(insight_id) AS insights
    FROM insights WHERE startsWith(model, 'sentiment') GROUP BY hour, model, label""",
    *_views(
        "sentiment",
        """SELECT {label}, model, label, n AS insights,
        n / sum(n) OVER (PARTITION BY {label}, model) AS share
    FROM (SELECT {bucket} AS {label}, model, label, uniqExactMerge(insights) AS n
          FROM agg_sentiment_hourly GROUP BY {label}, model, label)""",
    ),
)

CHURN_RISK = (
    f"""CREATE TABLE IF NOT EXISTS agg_churn_risk_hourly (
        hour DateTime('UTC'), model LowCardinality(String), decile UInt8, insights {IDS}
    ) {AGG} ORDER BY (hour, model, decile)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS mv_churn_risk_hourly TO agg_churn_risk_hourly AS
    SELECT toStartOfHour(occurred_at) AS hour, model,
           toUInt8(least(greatest(floor(assumeNotNull(coalesce(score, confidence)) * 10), 0), 9))
               AS decile,
           uniqExactState(insight_id) AS insights
    FROM insights
    WHERE startsWith(model, 'churn') AND coalesce(score, confidence) IS NOT NULL
    GROUP BY hour, model, decile""",
    *_views(
        "churn_risk",
        """SELECT {bucket} AS {label}, model, decile,
        decile / 10 AS risk_from, (decile + 1) / 10 AS risk_to,
        uniqExactMerge(insights) AS insights
    FROM agg_churn_risk_hourly GROUP BY {label}, model, decile""",
    ),
)

ACCEPTANCE = (
    f"""CREATE TABLE IF NOT EXISTS agg_feedback_hourly (
        hour DateTime('UTC'), verdict LowCardinality(String), feedback {IDS}
    ) {AGG} ORDER BY (hour, verdict)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS mv_feedback_hourly TO agg_feedback_hourly AS
    SELECT toStartOfHour(occurred_at) AS hour, verdict, uniqExactState(event_id) AS feedback
    FROM draft_feedback GROUP BY hour, verdict""",
    *_views(
        "draft_acceptance",
        """SELECT {label}, sum(n) AS feedback,
        sumIf(n, verdict = 'accepted') AS accepted, sumIf(n, verdict = 'edited') AS edited,
        sumIf(n, verdict = 'rejected') AS rejected, accepted / feedback AS acceptance_rate
    FROM (SELECT {bucket} AS {label}, verdict, uniqExactMerge(feedback) AS n
          FROM agg_feedback_hourly GROUP BY {label}, verdict)
    GROUP BY {label}""",
    ),
)

LOAD_REDUCTION = _views(
    "load_reduction",
    """SELECT {bucket} AS {label},
        count() AS inbound_messages,
        countIf(a.accepted = 1) AS answered_with_accepted_draft,
        answered_with_accepted_draft / inbound_messages AS load_reduction
    FROM (SELECT event_id, occurred_at FROM interactions FINAL
          WHERE type = 'message' AND direction = 'inbound') AS m
    LEFT JOIN (SELECT d.request_id AS request_id, max(f.verdict = 'accepted') AS accepted
               FROM drafts AS d FINAL INNER JOIN draft_feedback AS f FINAL
                 ON f.draft_id = d.draft_id
               GROUP BY d.request_id) AS a ON a.request_id = m.event_id
    GROUP BY {label}""",
    column="m.occurred_at",
)

STATEMENTS: Final = (
    *VOLUME,
    *SATISFACTION,
    *FIRST_RESPONSE,
    *SENTIMENT,
    *CHURN_RISK,
    *ACCEPTANCE,
    *LOAD_REDUCTION,
)
