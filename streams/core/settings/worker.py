"""The worker's own knobs: identity, agents, the hot path's batches, memory."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from streams.core.settings.state import LocalState

StoreKind = Literal["rocksdb", "memory"]
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]
AGENT_NAMES = ("ingest", "features", "scoring", "sink", "reply_requests", "drafting")
BENCH_AGENTS = ("peers",)
"""Agents for benchmarks only, never in ``all``: ``peers`` runs ``rapport bench peers``'
feature workload (features.peer_workload) from ``interactions`` to ``peer-features``."""


class WorkerSettings(LocalState):
    """Identity, local state, agents, batches and memory of one worker."""

    model_config = ConfigDict(frozen=True)

    # --- identity and local state
    app_id: str = Field("rapport", description="Faust app id: consumer group and changelog prefix")
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
        description="Agents this worker runs: all, processing (all but the sink: workers "
        "beside one `rapport sink`), or comma-separated names among ingest, features, "
        "scoring, sink, reply_requests, drafting (scoring needs features)",
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
    consumer_fetch_min_bytes: int = Field(
        1,
        ge=1,
        le=64 * 1024 * 1024,
        description="The broker answers a fetch once this much data is there (or the wait "
        "passed): fewer, fuller fetches at a low rate",
    )
    consumer_fetch_max_wait_ms: int = Field(
        1500, ge=0, le=60_000, description="The longest a fetch waits for its minimum size"
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

    @field_validator("agents")
    @classmethod
    def _check_agents(cls, value: str) -> str:
        names = {n.strip() for n in value.split(",") if n.strip()}
        if names == {"all"}:
            return "all"
        if "processing" in names:  # every agent but the sink (beside one `rapport sink`)
            names = (names - {"processing"}) | (set(AGENT_NAMES) - {"sink"})
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
