"""Prometheus metrics of the feature agent and store (served on every worker's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = Counter(
    "rapport_features_events_total",
    "Events seen by the feature agent, by outcome: applied, late (all-time aggregates "
    "only), replayed (offset already applied), duplicate (re-forwarded event id), "
    "erased (refused: at or before the customer's erasure), erasure",
    ["outcome"],
)
STATE_BYTES = Histogram(
    "rapport_features_state_bytes",
    "Encoded size of a customer's state at each write",
    buckets=(64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096, 8192),
)
PENDING = Gauge("rapport_features_pending", "Changed customers waiting for the next flush")
CACHED_STATES = Gauge(
    "rapport_features_cached_states",
    "Decoded customer states the feature engine keeps in memory (RAPPORT_FEATURES_CACHE_CUSTOMERS)",
)
STORE_WRITES = Counter(
    "rapport_features_store_writes_total", "Redis feature hashes written or deleted", ["op"]
)
STORE_ERRORS = Counter(
    "rapport_features_store_errors_total",
    "Failed Redis flushes (the customers are retried on the next flush)",
)
SNAPSHOTS = Counter(
    "rapport_features_snapshots_total",
    "Records sent to the features topic: snapshot or tombstone",
    ["kind"],
)
SNAPSHOT_ERRORS = Counter(
    "rapport_features_snapshot_errors_total", "Snapshots Kafka refused (retried on the next flush)"
)
FLUSH_SECONDS = Histogram(
    "rapport_features_flush_seconds",
    "Duration of one flush (Redis and snapshots)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DEDUP_WINDOW = Gauge(
    "rapport_features_dedup_ids", "Event ids held for re-forward detection (this worker)"
)
OFFSET_GAPS = Counter(
    "rapport_features_offset_gaps_total",
    "Jumps in the offsets of an events partition seen by the feature agent",
)
ORDERS_OTHER_CURRENCY = Counter(
    "rapport_features_orders_other_currency_total",
    "Orders in a currency other than RAPPORT_FEATURES_BASE_CURRENCY: counted in the order "
    "counts, not in the amounts nor the RFM monetary score",
)
UNTRACKED = Counter(
    "rapport_features_untracked_total",
    "Messages and ticket events not tracked because the customer held the most "
    "conversations, pending messages or tickets the state keeps (counted in windows only)",
    ["kind"],
)
UNTRACKED_BY_KIND = {kind: UNTRACKED.labels(kind) for kind in ("message", "ticket")}
