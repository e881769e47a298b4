"""Prometheus metric families of the sinks (served on every worker's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS = Counter("rapport_sink_rows_total", "Rows written, per sink and table", ["sink", "table"])
REJECTED = Counter(
    "rapport_sink_rejected_total",
    "Rows the store refused (dead-lettered), per sink, table and reason",
    ["sink", "table", "reason_code"],
)
RETRIES = Counter(
    "rapport_sink_retries_total",
    "Failed writes retried, per sink and kind (transient or data)",
    ["sink", "kind"],
)
UP = Gauge(
    "rapport_sink_up", "1 when the sink's last write succeeded, 0 while it retries", ["sink"]
)
ERASED_DROPS = Counter(
    "rapport_sink_erased_rows_dropped_total",
    "Rows refused because their customer was erased after them",
    ["table"],
)
ERASURES = Counter("rapport_erasures_total", "Erasure requests executed in the sink")
FLUSH_SECONDS = Histogram(
    "rapport_sink_flush_seconds",
    "Time to write one batch, retries included",
    ["sink"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
BATCH_ROWS = Histogram(
    "rapport_sink_batch_rows",
    "Records per flushed batch",
    ["sink"],
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10_000, 50_000, 100_000),
)
RETRY_BACKLOG = Gauge(
    "rapport_sink_retry_backlog_rows",
    "Rows held in writes being retried (0 when every write goes through)",
    ["sink"],
)
