"""The documented example queries (docs/analysts.md, ``rapport sql --examples``); a test runs each.

>>> sorted(EXAMPLES)[:3]
['churn_risk', 'customer_timeline', 'dead_letters']
"""

from __future__ import annotations

from typing import Final

EXAMPLES: Final[dict[str, tuple[str, str]]] = {
    "volume_by_channel": (
        "messages per hour and channel, latest first",
        "SELECT hour, channel, direction, sum(events) AS messages FROM kpi_volume_hourly "
        "WHERE type = 'message' GROUP BY hour, channel, direction "
        "ORDER BY hour DESC, channel, direction LIMIT 24",
    ),
    "satisfaction": (
        "ratings, average score and CSAT (share of 4 and 5) per day",
        "SELECT day, ratings, round(avg_score, 2) AS avg_score, round(csat, 3) AS csat "
        "FROM kpi_satisfaction_daily ORDER BY day DESC LIMIT 14",
    ),
    "first_response": (
        "first-response time per day and channel (conversations that start inbound)",
        "SELECT day, channel, conversations, answered, round(avg_first_response_s) AS avg_s, "
        "round(median_first_response_s) AS median_s FROM kpi_first_response_daily "
        "ORDER BY day DESC, channel LIMIT 28",
    ),
    "sentiment_mix": (
        "predicted sentiment labels per day, with their share",
        "SELECT day, model, label, insights, round(share, 3) AS share FROM kpi_sentiment_daily "
        "ORDER BY day DESC, model, label LIMIT 30",
    ),
    "churn_risk": (
        "churn-risk predictions by decile, all time",
        "SELECT model, decile, risk_from, risk_to, sum(insights) AS insights "
        "FROM kpi_churn_risk_daily GROUP BY model, decile, risk_from, risk_to "
        "ORDER BY model, decile",
    ),
    "draft_acceptance": (
        "drafted-reply feedback and acceptance rate per day",
        "SELECT day, feedback, accepted, edited, rejected, round(acceptance_rate, 3) AS rate "
        "FROM kpi_draft_acceptance_daily ORDER BY day DESC LIMIT 14",
    ),
    "load_reduction": (
        "share of inbound messages answered with an accepted draft, per day",
        "SELECT day, inbound_messages, answered_with_accepted_draft, "
        "round(load_reduction, 3) AS share FROM kpi_load_reduction_daily "
        "ORDER BY day DESC LIMIT 14",
    ),
    "customer_timeline": (
        "one customer's latest interactions (text is stored redacted)",
        "SELECT occurred_at, type, channel, direction, action, score, amount, text "
        "FROM interactions WHERE customer_id = (SELECT any(customer_id) FROM interactions) "
        "ORDER BY occurred_at DESC LIMIT 20",
    ),
    "top_customers": (
        "customers by order revenue",
        "SELECT customer_id, count() AS orders, round(sum(amount), 2) AS revenue "
        "FROM interactions WHERE type = 'order' GROUP BY customer_id "
        "ORDER BY revenue DESC LIMIT 10",
    ),
    "dead_letters": (
        "refused records by source topic and reason",
        "SELECT source_topic, reason_code, count() AS letters, max(dead_lettered_at) AS last "
        "FROM dead_letters GROUP BY source_topic, reason_code ORDER BY letters DESC",
    ),
    "erasures": (
        "the erasure audit (a hash of the customer id, never the id)",
        "SELECT executed_at, requested_at, reason, rows_deleted FROM erasures "
        "ORDER BY executed_at DESC LIMIT 10",
    ),
}
"""name -> (what it answers, the query)."""
