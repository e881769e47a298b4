"""The online models of the scoring agent."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MIN_CHECKPOINT_KEY_BYTES = 16


class ModelSettings(BaseModel):
    """The scoring agent: checkpoints, horizons, publishing."""

    model_config = ConfigDict(frozen=True)

    # --- models (the scoring agent)
    models_checkpoint_key: SecretStr = Field(
        SecretStr("rapport-local-checkpoint-key-change-me"),
        description="Models: HMAC-SHA256 key signing model checkpoints (at least 16 bytes); "
        "the default is for local runs only",
    )
    models_warm_start: bool = Field(
        True,
        description="Models: start each partition's text models (intent, sentiment) from the "
        "warm-start snapshot when it has no checkpoint (`rapport models warm-start` builds it)",
    )
    models_warm_start_path: Path | None = Field(
        None,
        description="Models: the warm-start snapshot (signed with the checkpoint key); "
        "unset: RAPPORT_DATA_DIR/models/warm-start.rpck",
    )
    models_checkpoint_interval_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Models: each partition's model set is checkpointed to Redis this often "
        "(when it learnt something) and at shutdown or revocation",
    )
    models_churn_horizon_s: int = Field(
        30 * 86_400,
        ge=60,
        description="Models: a churn prediction is labelled churned if the customer cancels "
        "within this long, retained once the event-time watermark passes it",
    )
    models_anomaly_quantile: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="Models: an anomaly score at or above this running quantile of the "
        "partition's scores raises the alert flag",
    )
    models_publish_every: int = Field(
        20,
        ge=1,
        description="Models: churn, segment and anomaly insights are published at most once "
        "per customer per this many events, unless the value moved (see agents.scoring.agent)",
    )
    models_churn_min_change: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Models: a churn risk that moved by this much since the customer's last "
        "churn insight is published at once",
    )
    models_coalesce: bool = Field(
        True,
        description="Models: churn, segment, anomaly and reco's top-k run once per customer "
        "per batch, on its latest event (false: on every event)",
    )
    models_recent_texts: int = Field(
        20,
        ge=1,
        le=1000,
        description="Models: inbound message texts kept per customer for late labels",
    )
    models_max_customers: int = Field(
        100_000,
        ge=100,
        description="Models: customers with model-side state (texts, subscription, last "
        "insights) kept per partition; the least recently active are evicted",
    )
    models_bias_min_ratio: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Models: bias audit: a model's worst segment (channel, plan, source) "
        "below this share of its best segment's accuracy (AUC for churn) publishes a "
        "bias_{model} alert insight",
    )
    models_bias_min_examples: int = Field(
        50, ge=1, description="Models: bias audit: examples a segment needs to be compared"
    )
    models_metrics_interval_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="Models: every partition's prequential figures (overall and by segment) "
        "are published as metrics_{model} insights this often, for models with new labelled "
        "examples (0: never)",
    )

    @field_validator("models_checkpoint_key")
    @classmethod
    def _check_checkpoint_key(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_CHECKPOINT_KEY_BYTES:
            msg = f"must be at least {MIN_CHECKPOINT_KEY_BYTES} bytes"
            raise ValueError(msg)
        return value
