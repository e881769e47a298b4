"""Migration 4: ``model_metrics`` keyed by segment and partition as well.

The scoring agents keep one model set per partition of ``events``, each with its own
prequential figures, overall (segment ``all``) and by segment; rows of two partitions
(or two segments) at the same time would otherwise replace each other. The table was
empty until this version wrote it. Re-running the statement is a no-op.
"""

from __future__ import annotations

from typing import Final

STATEMENTS: Final = (
    """ALTER TABLE model_metrics
        ADD COLUMN IF NOT EXISTS segment LowCardinality(String) AFTER metric,
        ADD COLUMN IF NOT EXISTS source_partition UInt32
            COMMENT 'the events partition whose model set was measured' AFTER segment,
        ADD COLUMN IF NOT EXISTS examples UInt64 COMMENT 'labelled examples so far' AFTER value,
        MODIFY ORDER BY (model, metric, at, model_version, segment, source_partition)""",
)
