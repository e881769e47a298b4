"""What agents receive from the worker: the app, the settings, the topics by role, and
changelogged tables whose memory is bounded by settings.

Below the agents: agents and web views import it; the app factory (:mod:`streams.app`),
which imports the agents to register them, sits above both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from streams.core.codecs import KEY_SERIALIZER
from streams.core.settings import Settings, WorkerSettings

# dead letters carry the original bytes (base64 grows them by a third)
MAX_RECORD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Runtime:
    """What agents receive: the app, the settings and the topics by role."""

    app: faust.App
    settings: Settings
    topics: dict[str, faust.TopicT]

    def table(self, name: str, value_type: type[Any] = bytes) -> Any:
        """A changelogged table of string keys (JSON, encoded compactly: streams.core.codecs),
        its RocksDB memory bounded by settings."""
        table: Any = self.app.Table(
            name,
            key_type=str,
            value_type=value_type,
            default=None,
            partitions=self.settings.topic_partitions,
            options=store_options(self.settings),
        )
        # Faust derives it from key_type (json for str); its store and changelog topic
        # read it when first used, after this
        table.key_serializer = KEY_SERIALIZER
        return table


def store_options(settings: WorkerSettings) -> dict[str, Any]:
    """Options of one table's store: memtables and block cache bounded by settings.

    A new dict each call: Faust's RocksDB store pops keys from the one it is given.

    >>> from streams.core.settings import Settings, WorkerSettings
    >>> store_options(Settings(rocksdb_block_cache_bytes=1024))["block_cache_size"]
    1024
    """
    if settings.store != "rocksdb":
        return {}
    return {
        "write_buffer_size": settings.rocksdb_write_buffer_bytes,
        "max_write_buffer_number": settings.rocksdb_write_buffers,
        "block_cache_size": settings.rocksdb_block_cache_bytes,
        "block_cache_compressed_size": settings.rocksdb_block_cache_bytes,
    }


def tables_ready(app: Any) -> bool:
    """Recovery completed and no rebalance running: the tables can be read."""
    return bool(app.tables.recovery.completed.is_set() and not app.rebalancing)
