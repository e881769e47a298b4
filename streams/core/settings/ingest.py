"""Ingest: the limits on incoming records and the deduplication window."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IngestSettings(BaseModel):
    """What the ingest agent accepts, and how long it remembers event ids."""

    model_config = ConfigDict(frozen=True)

    # --- ingest
    max_event_bytes: int = Field(262_144, ge=1024, description="Larger payloads are dead-lettered")
    max_future_skew_s: float = Field(300.0, ge=0, description="occurred_at may lead now by this")
    dedup_horizon_s: int = Field(
        7 * 86_400, ge=60, description="Duplicate event ids dropped within (at most)"
    )
    dedup_max_ids: int = Field(
        1_000_000,
        ge=1_000,
        description="Event ids kept per interactions partition (16 B each): beyond, the "
        "oldest are forgotten before the horizon",
    )
    dedup_seal_ids: int = Field(
        16_384, ge=16, description="Event ids per sealed dedup record (a batch of the table)"
    )
