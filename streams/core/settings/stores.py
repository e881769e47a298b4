"""The stores outside Kafka: Redis, and ClickHouse (embedded chDB by default)."""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from streams.core.settings.state import LocalState


class RedisSettings(BaseModel):
    """Redis: drafts, feature snapshots, model checkpoints."""

    model_config = ConfigDict(frozen=True)

    # --- Redis
    redis_url: SecretStr = Field(SecretStr("redis://127.0.0.1:6379/0"))
    redis_key_prefix: str = "rapport:"


class ClickHouseSettings(LocalState):
    """ClickHouse: where, how the sink batches and retries, the SQL gate."""

    model_config = ConfigDict(frozen=True)

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
    def clickhouse_url(self) -> str:
        if self.clickhouse_dsn is not None:
            return self.clickhouse_dsn.get_secret_value()
        return f"chdb://{(self.data_dir / 'chdb').resolve()}"
