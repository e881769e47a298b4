"""One settings object for the whole engine, read once at start (prefix ``RAPPORT_``).

>>> s = Settings(_env_file=None, kafka_bootstrap_servers="127.0.0.1:9092")
>>> s.faust_broker_url
'kafka://127.0.0.1:9092'
>>> s.topic_name("interactions")
'rapport.interactions'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
StoreKind = Literal["rocksdb", "memory"]
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]
DraftingStyle = Literal["chat", "completion"]
MIN_CHECKPOINT_KEY_BYTES = 16
AGENT_NAMES = ("ingest", "features", "scoring", "sink", "reply_requests", "drafting")
BENCH_AGENTS = ("peers",)
"""Agents for benchmarks only, never in ``all``: ``peers`` runs ``rapport bench peers``'
feature workload (features.peer_workload) from ``interactions`` to ``peer-features``."""

TopicRole = Literal[
    "interactions",
    "events",
    "dlq",
    "features",
    "insights",
    "reply_requests",
    "drafted_replies",
]


class Settings(BaseSettings):
    """Every knob of a Rapport worker and its CLI. See docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_", env_file=".env", extra="ignore", frozen=True
    )

    # --- identity and local state
    app_id: str = Field("rapport", description="Faust app id: consumer group and changelog prefix")
    data_dir: Path = Field(Path(".rapport"), description="Local state: tables, chDB, stack files")
    store: StoreKind = Field("rocksdb", description="Table store: rocksdb (rocksdict) or memory")
    # RocksDB keeps one database per table and partition (6 tables x the worker's
    # partitions); Faust's defaults (64 MiB x 3 memtables, a 2 GiB block cache each) let
    # a worker's memory grow for hours. These bound each database.
    malloc_arenas: int = Field(
        2,
        ge=0,
        le=64,
        description="glibc malloc arenas of a worker (0: glibc's default, 8 per core): "
        "fewer arenas return freed memory instead of holding it per thread",
    )
    rocksdb_write_buffer_bytes: int = Field(
        1024 * 1024,
        ge=64 * 1024,
        description="RocksDB memtable size per table partition (flushed to disk when full)",
    )
    rocksdb_write_buffers: int = Field(
        2, ge=2, le=8, description="RocksDB memtables per table partition"
    )
    rocksdb_block_cache_bytes: int = Field(
        2 * 1024 * 1024, ge=0, description="RocksDB block cache per table partition"
    )
    processing_guarantee: ProcessingGuarantee = Field("at_least_once")
    agents: str = Field(
        "all",
        description="Agents this worker runs: all, or comma-separated names among "
        "ingest, features, scoring, sink, reply_requests, drafting (scoring needs features)",
    )

    # --- the hot path's batches (streams.core.batches)
    batch_max_events: int = Field(
        500, ge=1, le=100_000, description="Most records an agent takes in one batch"
    )
    batch_linger_s: float = Field(
        0.0,
        ge=0,
        le=1.0,
        description="Wait this long once for more records when a batch is short (latency "
        "for fewer, larger batches); 0 takes what is queued",
    )
    stream_buffer_records: int = Field(
        4096,
        ge=8,
        le=1_000_000,
        description="Records queued for an agent at most; a partition whose agent's queue "
        "is full is held (fetching paused, read again later) instead of blocking the others",
    )
    producer_linger_s: float = Field(
        0.005,
        ge=0,
        le=1.0,
        description="The producer waits this long to fill a request: a batch's sends go "
        "out in a few requests instead of one each",
    )

    memory_trace: bool = Field(
        False,
        description="Trace Python allocations (tracemalloc, ~10-30% slower) and serve "
        "/debug/heap: for rapport bench soak",
    )
    memory_trace_frames: int = Field(
        1, ge=1, le=32, description="Frames kept per traced allocation (callers of a site)"
    )

    # --- Kafka
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    # --- topics
    topic_prefix: str = Field("rapport.", description="Prefix of every topic name")
    topic_partitions: int = Field(4, ge=1, le=1024, description="Partitions of created topics")
    topic_replication: int = Field(1, ge=1, le=16)

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

    # --- Redis
    redis_url: SecretStr = Field(SecretStr("redis://127.0.0.1:6379/0"))
    redis_key_prefix: str = "rapport:"

    # --- ClickHouse
    clickhouse_dsn: SecretStr | None = Field(
        None, description="chdb:///path (default: under data_dir) or http(s)://user:pw@host:8123/db"
    )
    clickhouse_database: str = Field(
        "rapport",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="Database of the sink's tables and views (created at start)",
    )
    clickhouse_batch_size: int = Field(
        5000, ge=1, le=1_000_000, description="Sink: flush when this many records are buffered"
    )
    clickhouse_flush_interval_s: float = Field(
        1.0, gt=0, le=300, description="Sink: flush buffered records at least this often"
    )
    clickhouse_retry_backoff_s: float = Field(
        0.5, gt=0, description="Sink: first retry delay; doubles per attempt (jittered)"
    )
    clickhouse_retry_backoff_max_s: float = Field(
        30.0, gt=0, description="Sink: longest retry delay; transient failures retry forever"
    )
    clickhouse_data_retries: int = Field(
        2, ge=0, le=10, description="Sink: retries of a refused batch before isolating bad rows"
    )
    clickhouse_erasure_refresh_s: float = Field(
        10.0, gt=0, description="Sink: reload the erased-customer set this often"
    )
    clickhouse_sql_max_rows: int = Field(
        10_000, ge=1, description="`rapport sql`: rows returned at most (result_overflow_mode)"
    )
    clickhouse_sql_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="`rapport sql`: max_execution_time of one query"
    )
    clickhouse_fault_kill_after_batches: int = Field(
        0,
        ge=0,
        description="Fault tests only: SIGKILL the worker after this many sink "
        "batches are inserted, before their offsets are committed (0: off)",
    )

    # --- LLM
    llm_base_url: str = "http://127.0.0.1:8090/v1"
    llm_model: str = "gemma-3-270m"
    llm_api_key: SecretStr = SecretStr("sk-local-no-key")
    llm_timeout_s: float = Field(
        10.0, gt=0, description="Per call; below Faust's processing timeout"
    )
    llm_max_retries: int = Field(2, ge=0)

    # --- drafting
    drafting_enabled: bool = Field(
        True, description="Drafting: run the drafting agent (reply requests are emitted anyway)"
    )
    drafting_style: DraftingStyle = Field(
        "completion",
        description="Drafting: chat (instruction-tuned) or completion (few-shot, "
        "base models such as Gemma 3 270M)",
    )
    drafting_concurrency: int = Field(
        4, ge=1, le=256, description="Drafting: requests drafted at once per worker"
    )
    drafting_deadline_s: float = Field(
        45.0,
        gt=0,
        le=240,
        description="Drafting: budget of one request, all attempts and "
        "backoff included; below Faust's 300 s processing timeout",
    )
    drafting_backoff_s: float = Field(
        0.5,
        gt=0,
        description="Drafting: first retry delay, doubled per attempt (jittered); "
        "a longer Retry-After wins",
    )
    drafting_backoff_max_s: float = Field(8.0, gt=0, description="Drafting: longest retry delay")
    drafting_max_tokens: int = Field(120, ge=8, le=4096, description="Drafting: output tokens")
    drafting_temperature: float = Field(0.3, ge=0, le=2, description="Drafting: sampling")
    drafting_breaker_failures: int = Field(
        5, ge=1, description="Drafting: consecutive failed LLM attempts that open the breaker"
    )
    drafting_breaker_reset_s: float = Field(
        30.0, gt=0, description="Drafting: an open breaker lets one trial call through after this"
    )
    drafting_degrade_lag: int = Field(
        200,
        ge=1,
        description="Drafting: reply-request lag (messages, this worker) at which "
        "drafting switches to the cheap mode",
    )
    drafting_recover_lag: int = Field(
        20, ge=0, description="Drafting: lag at or below which the cheap mode ends"
    )
    drafting_cheap_max_tokens: int = Field(
        48, ge=8, description="Drafting: output tokens in the cheap mode"
    )
    drafting_low_priority_intents: list[str] = Field(
        [
            "review",
            "newsletter_subscription",
            "check_payment_methods",
            "delivery_options",
            "check_refund_policy",
            "create_account",
            "other",
        ],
        description="Drafting: intents answered from templates in the cheap mode (JSON list)",
    )
    drafting_turns: int = Field(
        6, ge=0, le=50, description="Drafting: last turns of a conversation kept for the prompt"
    )
    drafting_conversations: int = Field(
        5, ge=1, le=100, description="Drafting: conversations kept per customer for the prompt"
    )
    drafting_tone: str = Field(
        "Be friendly, concise and professional.", description="Drafting: tone guidance"
    )
    drafting_policy: list[str] = Field(
        [], description="Drafting: policy snippets added to every prompt (JSON list)"
    )
    drafting_allowed_domains: list[str] = Field(
        [], description="Drafting: link and e-mail domains a draft may contain (JSON list)"
    )
    drafting_allowed_phones: list[str] = Field(
        [], description="Drafting: phone numbers a draft may contain (JSON list)"
    )
    drafting_redact_identifiers: dict[str, str] = Field(
        {
            "ORDER": r"(?i)\b(?:order|purchase|invoice|bill|receipt|account|ticket|tracking"
            r"|reference|case)\s*(?:number|no\.?|id)?\s*[:#]?\s*"
            r"((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,})\b"
        },
        description="Drafting: extra identifiers redacted, {LABEL: regex} (group 1 if any)",
    )
    drafting_phone_region: str = Field(
        "US", min_length=2, max_length=2, description="Drafting: region of national phone numbers"
    )
    drafting_claim_ttl_s: int = Field(
        7 * 86_400,
        ge=60,
        description="Drafting: how long a message id stays claimed and its "
        "draft and redacted prompt cached in Redis",
    )
    drafting_churn_threshold: float = Field(
        0.7,
        gt=0,
        le=1,
        description="Drafting: churn risk rising across this asks for an engagement draft",
    )
    drafting_engagement_cooldown_s: int = Field(
        7 * 86_400,
        ge=0,
        description="Drafting: at most one engagement draft per customer within this",
    )
    drafting_cost_prompt_per_1k_usd: float = Field(
        0.0, ge=0, description="Drafting: price of 1,000 prompt tokens (cost estimate)"
    )
    drafting_cost_completion_per_1k_usd: float = Field(
        0.0, ge=0, description="Drafting: price of 1,000 completion tokens (cost estimate)"
    )

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

    # --- models (the scoring agent)
    models_checkpoint_key: SecretStr = Field(
        SecretStr("rapport-local-checkpoint-key-change-me"),
        description="Models: HMAC-SHA256 key signing model checkpoints (at least 16 bytes); "
        "the default is for local runs only",
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
    models_metrics_interval_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="Models: every partition's prequential figures (overall and by segment) "
        "are published as metrics_{model} insights this often, for models with new labelled "
        "examples (0: never)",
    )

    # --- web
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    log_level: str = "info"
    blocking_timeout_s: float = Field(
        0.0,
        ge=0,
        description="Log a traceback of the event loop when it is blocked longer than this "
        "(seconds; 0: off)",
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for hostport in value.split(","):
            host, sep, port = hostport.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                msg = f"expected host:port[,host:port...], got {value!r}"
                raise ValueError(msg)
        return value

    @field_validator("agents")
    @classmethod
    def _check_agents(cls, value: str) -> str:
        names = {n.strip() for n in value.split(",") if n.strip()}
        if names == {"all"}:
            return "all"
        unknown = sorted(names - set(AGENT_NAMES) - set(BENCH_AGENTS))
        if unknown or not names:
            msg = f"unknown agent(s) {unknown}; expected all or names among {AGENT_NAMES}"
            raise ValueError(msg)
        if "scoring" in names and "features" not in names:
            msg = "scoring needs features"
            raise ValueError(msg)
        return ",".join(n for n in AGENT_NAMES + BENCH_AGENTS if n in names)

    @property
    def agent_names(self) -> frozenset[str]:
        """The agents this worker registers (``agents``: all, or a comma-separated list)."""
        if self.agents == "all":
            return frozenset(AGENT_NAMES)
        return frozenset(self.agents.split(","))

    @field_validator("models_checkpoint_key")
    @classmethod
    def _check_checkpoint_key(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_CHECKPOINT_KEY_BYTES:
            msg = f"must be at least {MIN_CHECKPOINT_KEY_BYTES} bytes"
            raise ValueError(msg)
        return value

    @field_validator("clickhouse_dsn")
    @classmethod
    def _check_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        scheme = urlparse(value.get_secret_value()).scheme
        if scheme not in {"chdb", "http", "https", "clickhouse"}:
            msg = f"scheme must be chdb, http or https, got {scheme or 'none'!r}"
            raise ValueError(msg)
        return value

    @property
    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{hp.strip()}" for hp in self.kafka_bootstrap_servers.split(","))

    @property
    def clickhouse_url(self) -> str:
        if self.clickhouse_dsn is not None:
            return self.clickhouse_dsn.get_secret_value()
        return f"chdb://{(self.data_dir / 'chdb').resolve()}"

    def to_env(self) -> dict[str, str]:
        """These settings as ``RAPPORT_*`` variables, to hand to a child worker process."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, list | dict):
                value = json.dumps(value)  # pydantic-settings reads complex values as JSON
            env[f"RAPPORT_{name.upper()}"] = str(value)
        return env

    def topic_name(self, role: TopicRole) -> str:
        return f"{self.topic_prefix}{role.replace('_', '-')}"
