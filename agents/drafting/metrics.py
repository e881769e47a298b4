"""Prometheus metrics of reply drafting (served on ``/metrics`` with the rest)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REPLY_REQUESTS = Counter(
    "rapport_reply_requests_total", "Reply requests emitted, by kind and reason", ["kind", "reason"]
)
INTENT_SOURCE = Counter(
    "rapport_reply_intent_source_total",
    "Inbound messages by where their intent came from (model, rules)",
    ["source"],
)
EDITS = Counter(
    "rapport_draft_edits_learnt_total",
    "Edited replies kept as prompt examples for the customer, or skipped (identifiers)",
    ["outcome"],
)
NO_REPLY = Counter(
    "rapport_reply_not_needed_total", "Inbound messages the rule left without a draft", ["reason"]
)
DRAFTS = Counter(
    "rapport_drafts_total",
    "Drafts published, by source (llm, fallback) and mode",
    ["source", "mode"],
)
DRAFT_FLAGS = Counter("rapport_draft_flags_total", "Flags carried by published drafts", ["flag"])
DRAFT_FAILURES = Counter(
    "rapport_draft_failures_total", "Requests that ended in a failure record", ["reason"]
)
DRAFT_REPLAYS = Counter(
    "rapport_draft_replays_total",
    "Requests seen again: served from the cache or left to the worker holding the claim",
    ["outcome"],
)
DRAFT_LATENCY = Histogram(
    "rapport_draft_latency_seconds",
    "Request drafted to draft ready (LLM attempts and checks included)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 45, 90),
)
DRAFT_TOKENS = Counter("rapport_draft_tokens_total", "LLM tokens used", ["kind"])
DRAFT_COST = Counter("rapport_draft_cost_usd_total", "Estimated LLM cost (USD)")
BREAKER_OPEN = Gauge("rapport_llm_breaker_open", "1 while the LLM circuit breaker is not closed")
DRAFT_MODE = Gauge("rapport_drafting_cheap_mode", "1 while drafting runs in the cheap mode")
REQUEST_LAG = Gauge(
    "rapport_reply_request_lag_messages", "Reply requests behind the one being drafted (worker)"
)
FEEDBACK = Counter(
    "rapport_draft_feedback_total",
    "Reviewer verdicts on drafts, per model and prompt version",
    ["model", "prompt_version", "verdict"],
)
