"""One settings object for the whole engine, read once at start (prefix ``RAPPORT_``).

>>> s = Settings(_env_file=None, kafka_bootstrap_servers="127.0.0.1:9092")
>>> s.faust_broker_url
'kafka://127.0.0.1:9092'
>>> s.topic_name("interactions")
'rapport.interactions'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
StoreKind = Literal["rocksdb", "memory"]
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]

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
    """Every knob of a Rapport worker and its CLI. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_", env_file=".env", extra="ignore", frozen=True
    )

    # --- identity and local state
    app_id: str = Field("rapport", description="Faust app id: consumer group and changelog prefix")
    data_dir: Path = Field(Path(".rapport"), description="Local state: tables, chDB, stack files")
    store: StoreKind = Field("rocksdb", description="Table store: rocksdb (rocksdict) or memory")
    processing_guarantee: ProcessingGuarantee = Field("at_least_once")

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
        7 * 86_400, ge=60, description="Duplicate event ids dropped within"
    )

    # --- Redis
    redis_url: SecretStr = Field(SecretStr("redis://127.0.0.1:6379/0"))
    redis_key_prefix: str = "rapport:"

    # --- ClickHouse
    clickhouse_dsn: SecretStr | None = Field(
        None, description="chdb:///path (default: under data_dir) or http(s)://user:pw@host:8123/db"
    )

    # --- LLM
    llm_base_url: str = "http://127.0.0.1:8090/v1"
    llm_model: str = "gemma-3-270m"
    llm_api_key: SecretStr = SecretStr("sk-local-no-key")
    llm_timeout_s: float = Field(
        10.0, gt=0, description="Per call; below Faust's processing timeout"
    )
    llm_max_retries: int = Field(2, ge=0)

    # --- web
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    log_level: str = "info"

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for hostport in value.split(","):
            host, sep, port = hostport.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                msg = f"expected host:port[,host:port...], got {value!r}"
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
            env[f"RAPPORT_{name.upper()}"] = str(value)
        return env

    def topic_name(self, role: TopicRole) -> str:
        return f"{self.topic_prefix}{role.replace('_', '-')}"
