"""Where a worker keeps its local state (tables, embedded ClickHouse, stack files)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class LocalState(BaseModel):
    """The local state directory, shared by the worker and the embedded ClickHouse."""

    model_config = ConfigDict(frozen=True)

    data_dir: Path = Field(Path(".rapport"), description="Local state: tables, chDB, stack files")
