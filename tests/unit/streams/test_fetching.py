"""The worker's consumer fetches with the configured minimum size and wait.

The app is built as a worker builds it (no broker needed); the aiokafka consumer its
consumer thread creates is inspected before it starts (its fetcher reads the two values
when it starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streams.app import create_app
from streams.core.settings import Settings


async def fetch_options(tmp_path: Path, **tuning: Any) -> tuple[int, int]:
    settings = Settings(_env_file=None, data_dir=tmp_path, agents="ingest").model_copy(
        update=tuning
    )
    app: Any = create_app(settings).app
    kafka: Any = app.consumer._thread._create_worker_consumer(app.transport)
    return kafka._fetch_min_bytes, kafka._fetch_max_wait_ms


async def test_fetches_wait_for_the_configured_size_and_time(tmp_path: Path) -> None:
    tuned = await fetch_options(
        tmp_path, consumer_fetch_min_bytes=65_536, consumer_fetch_max_wait_ms=25
    )
    assert tuned == (65_536, 25)


async def test_by_default_a_fetch_is_answered_at_its_first_byte(tmp_path: Path) -> None:
    assert await fetch_options(tmp_path) == (1, 1500)
