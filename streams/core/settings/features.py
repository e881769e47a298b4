"""Rolling per-customer features."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FeatureSettings(BaseModel):
    """The feature agent: lateness, windows, flushes, snapshots, caches."""

    model_config = ConfigDict(frozen=True)

    # --- features
    features_allowed_lateness_s: int = Field(
        3600,
        ge=0,
        le=30 * 86_400,
        description="Features: an event older than the customer's latest event time minus "
        "this is late: counted in all-time aggregates only (and in a metric)",
    )
    features_cart_abandon_s: int = Field(
        3600,
        ge=60,
        description="Features: a cart with no order within this long of its last activity "
        "is abandoned",
    )
    features_flush_interval_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="Features: changed customers are written to Redis (pipelined) this often",
    )
    features_snapshot_interval_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Features: at most one snapshot per customer per this many seconds on "
        "the features topic; changes in between are coalesced",
    )
    features_redis_ttl_s: int = Field(
        7 * 86_400,
        ge=60,
        description="Features: TTL of a customer's Redis hash, renewed on every write",
    )
    features_cache_customers: int = Field(
        2_000,
        ge=0,
        le=10_000_000,
        description="Features: decoded customer states kept in memory (2-30 KB each; "
        "the rest are read from the table, ~240 B each, when their next event comes)",
    )
    features_dedup_span: int = Field(
        20_000,
        ge=0,
        le=10_000_000,
        description="Features: a re-forwarded copy of an event id is dropped within this "
        "many offsets of its events partition",
    )
    features_base_currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description="Features: orders in this currency count in the order amounts and the "
        "RFM monetary score; orders in any other currency only in the order counts and "
        "orders_other_currency (amounts are never converted)",
    )
