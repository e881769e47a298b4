"""A worker refuses to start on topics with another partition count than its setting.

Tried as a new user would: ``RAPPORT_TOPIC_PARTITIONS=6`` against an input topic that
already had 4 partitions made every event fail in the ingest agent (Faust's
``PartitionsMismatch``, logged per event, nothing committed, the run hung). The worker
now refuses at start, in one line naming the setting and the topic.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.conftest import Scope
from tests.support.kafka_io import BOOTSTRAP, create_topic


def worker(scope: Scope, **env: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "streams.cli", "worker"]
    full = {**os.environ, **scope.env(**env)}
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120, check=False)


async def visible(topic: str, timeout: float = 30.0) -> None:
    """Wait until the broker lists ``topic`` (its creation is answered before that)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        for _ in range(int(timeout / 0.2)):
            if topic in await admin.list_topics():
                return
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    raise AssertionError(f"{topic} never listed")


async def test_a_worker_refuses_topics_with_another_partition_count(scope: Scope) -> None:
    await create_topic(scope.topic("interactions"), 4)
    await visible(scope.topic("interactions"))
    done = worker(scope, RAPPORT_TOPIC_PARTITIONS="6")
    assert done.returncode == 2, done.stderr[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("rapport: RAPPORT_TOPIC_PARTITIONS is 6 but "), line
    assert f"{scope.topic('interactions')} (4 partitions) exist" in line
    assert "Traceback" not in done.stderr


async def test_a_worker_refuses_a_changelog_with_another_partition_count(scope: Scope) -> None:
    """A table's changelog left from a deployment with another count (its topics deleted
    and re-created, say) is refused the same way: its table would hang the same."""
    changelog = f"{scope.env()['RAPPORT_APP_ID']}-features-changelog"
    await create_topic(changelog, 2)
    await visible(changelog)
    done = worker(scope)
    assert done.returncode == 2, done.stderr[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("rapport: RAPPORT_TOPIC_PARTITIONS is 4 but "), line
    assert f"{changelog} (2 partitions) exist" in line
