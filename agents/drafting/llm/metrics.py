"""Prometheus metrics of the LLM client and its circuit breaker (served on ``/metrics``).

One request is one HTTP attempt: a logical call retried twice counts three requests.
Failed attempts are counted by kind: ``timeout``, ``rate_limited`` (429),
``server_error`` (5xx), ``connection``, ``bad_response`` (an unreadable or invalid
body) and ``client_error`` (other 4xx, not retried). The breaker's state
(``rapport_llm_breaker_open``, defined with the drafting metrics) is set on each
transition, counted here by the state entered.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

ERROR_KINDS: Final = (
    "timeout",
    "rate_limited",
    "server_error",
    "connection",
    "bad_response",
    "client_error",
)
REQUESTS = Counter("rapport_llm_requests_total", "HTTP requests (attempts) sent to the LLM")
ERRORS = Counter("rapport_llm_errors_total", "Failed LLM requests, by kind", ["kind"])
REQUEST_SECONDS = Histogram(
    "rapport_llm_request_seconds",
    "Duration of one LLM request (attempt), failed ones included",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
BREAKER_TRANSITIONS = Counter(
    "rapport_llm_breaker_transitions_total",
    "Circuit-breaker transitions, by the state entered",
    ["state"],
)
# children bound once, so every kind is exported (at 0) before it first happens
ERRORS_BY_KIND: Final = {kind: ERRORS.labels(kind) for kind in ERROR_KINDS}
