"""Kafka: the brokers, their security, and the topics."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TopicRole = Literal[
    "interactions",
    "events",
    "dlq",
    "features",
    "insights",
    "reply_requests",
    "drafted_replies",
]


class KafkaSettings(BaseModel):
    """The brokers a worker and the CLI reach, and the topics they create."""

    model_config = ConfigDict(frozen=True)

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

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for hostport in value.split(","):
            host, sep, port = hostport.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                msg = f"expected host:port[,host:port...], got {value!r}"
                raise ValueError(msg)
        return value

    @property
    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{hp.strip()}" for hp in self.kafka_bootstrap_servers.split(","))

    def topic_name(self, role: TopicRole) -> str:
        return f"{self.topic_prefix}{role.replace('_', '-')}"
