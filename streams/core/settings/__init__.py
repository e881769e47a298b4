"""One settings object for the whole engine, read once at start (prefix ``RAPPORT_``).

It is composed of one class per domain, each in its module: :mod:`.worker`
(identity, agents, batches, memory), :mod:`.kafka` (brokers, security, topics),
:mod:`.ingest`, :mod:`.stores` (Redis, ClickHouse), :mod:`.drafting` (LLM and
drafting), :mod:`.features`, :mod:`.models` and :mod:`.web`. A component declares the
slice it reads (``build_sink(settings: ClickHouseSettings)``); a :class:`Settings`
is every slice at once, so the variable names stay flat (``RAPPORT_DRAFTING_TONE``)
and one object is read and passed down.

>>> s = Settings(_env_file=None, kafka_bootstrap_servers="127.0.0.1:9092")
>>> s.faust_broker_url
'kafka://127.0.0.1:9092'
>>> s.topic_name("interactions")
'rapport.interactions'
>>> s.drafting_tone == DraftingSettings().drafting_tone
True
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.settings.drafting import DraftingSettings, DraftingStyle
from streams.core.settings.features import FeatureSettings
from streams.core.settings.ingest import IngestSettings
from streams.core.settings.kafka import KafkaSettings, SaslMechanism, SecurityProtocol, TopicRole
from streams.core.settings.models import MIN_CHECKPOINT_KEY_BYTES, ModelSettings
from streams.core.settings.state import LocalState
from streams.core.settings.stores import ClickHouseSettings, RedisSettings
from streams.core.settings.web import WebSettings
from streams.core.settings.worker import (
    AGENT_NAMES,
    BENCH_AGENTS,
    ProcessingGuarantee,
    StoreKind,
    WorkerSettings,
)

__all__ = [
    "AGENT_NAMES",
    "BENCH_AGENTS",
    "MIN_CHECKPOINT_KEY_BYTES",
    "ClickHouseSettings",
    "DraftingSettings",
    "DraftingStyle",
    "FeatureSettings",
    "IngestSettings",
    "KafkaSettings",
    "LocalState",
    "ModelSettings",
    "ProcessingGuarantee",
    "RedisSettings",
    "SaslMechanism",
    "SecurityProtocol",
    "Settings",
    "StoreKind",
    "TopicRole",
    "WebSettings",
    "WorkerSettings",
]


class Settings(
    WorkerSettings,
    KafkaSettings,
    IngestSettings,
    RedisSettings,
    ClickHouseSettings,
    DraftingSettings,
    FeatureSettings,
    ModelSettings,
    WebSettings,
    BaseSettings,
):
    """Every knob of a Rapport worker and its CLI. See docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_", env_file=".env", extra="ignore", frozen=True
    )

    @property
    def warm_start_file(self) -> Path:
        """Where the warm-start snapshot is read from and written to."""
        return self.models_warm_start_path or self.data_dir / "models" / "warm-start.rpck"

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
