"""Migration 3: the drafted-reply fields added to the contract (intent, mode, kind, attempts)."""

from __future__ import annotations

from typing import Final

STATEMENTS: Final = (
    """ALTER TABLE drafts
        ADD COLUMN IF NOT EXISTS intent LowCardinality(String),
        ADD COLUMN IF NOT EXISTS mode LowCardinality(String)
            COMMENT 'cheap: drafted under reply-request lag',
        ADD COLUMN IF NOT EXISTS kind LowCardinality(String) COMMENT 'reply or engagement',
        ADD COLUMN IF NOT EXISTS attempts UInt16 COMMENT 'LLM attempts (0: no call)'""",
)
