"""Versioned ClickHouse migrations, applied in order at start; applying twice is a no-op.

Each migration is recorded in ``schema_migrations`` with a checksum of its
statements. An applied migration is never edited (the checksum check refuses to
start); a change is a new migration. Statements are ``IF NOT EXISTS``, so workers
racing at start, or a crash in the middle of a migration, leave a schema the next
run completes.

>>> [m.version for m in MIGRATIONS], pending({1: MIGRATIONS[0].checksum})[0].version
([1, 2, 3, 4], 2)
>>> pending({1: "edited"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sinks.base.SinkError: migration 1 (tables) was applied with another checksum...
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sinks.base import SinkError
from sinks.clickhouse.migrations import (
    m001_tables,
    m002_kpis,
    m003_draft_fields,
    m004_model_metrics,
)

log = logging.getLogger(__name__)

BOOTSTRAP: Final = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, checksum String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    @property
    def checksum(self) -> str:
        return hashlib.sha256("\n;\n".join(self.statements).encode()).hexdigest()


MIGRATIONS: Final = (
    Migration(1, "tables", m001_tables.STATEMENTS),
    Migration(2, "kpis", m002_kpis.STATEMENTS),
    Migration(3, "draft fields", m003_draft_fields.STATEMENTS),
    Migration(4, "model metrics by segment and partition", m004_model_metrics.STATEMENTS),
)


def pending(applied: Mapping[int, str]) -> list[Migration]:
    """Migrations not applied yet; raises when an applied one was edited since."""
    todo = []
    for migration in MIGRATIONS:
        checksum = applied.get(migration.version)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            msg = (
                f"migration {migration.version} ({migration.name}) was applied with another "
                "checksum: applied migrations are never edited, add a new one"
            )
            raise SinkError(msg)
    return todo


def migrate(client: Any) -> list[int]:
    """Apply what is pending through a clickhouse-connect client; the versions applied."""
    client.command(BOOTSTRAP)
    rows = client.query(
        "SELECT version, argMax(checksum, applied_at) FROM schema_migrations GROUP BY version"
    ).result_rows
    done = []
    for migration in pending({int(v): str(c) for v, c in rows}):
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        log.info("applied ClickHouse migration %d (%s)", migration.version, migration.name)
        done.append(migration.version)
    return done
