"""``streams.topics.consumed_roles`` names exactly the topics a worker's agents read.

The main job waits for lag 0 on these topics: a topic an agent reads and the list misses
would let the job print its answers before that agent is done. The app is built as a
worker builds it (no broker needed) and its agents' topics are compared with the list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.app import create_app
from streams.core.settings import Settings
from streams.core.settings.worker import AGENT_NAMES, BENCH_AGENTS
from streams.topics import TABLES, consumed_roles


@pytest.mark.parametrize(
    ("agents", "drafting"),
    [
        ("all", True),
        ("all", False),
        ("ingest,features", True),
        ("ingest,sink,reply_requests", True),
        ("drafting", True),
        ("processing", True),
        ("sink", True),
    ],
)
def test_consumed_roles_are_the_topics_the_agents_read(
    tmp_path: Path, agents: str, drafting: bool
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, agents=agents, drafting_enabled=drafting)
    runtime = create_app(settings)
    read = {topic for agent in runtime.app.agents.values() for topic in agent.channel.topics}
    assert read == {settings.topic_name(role) for role in consumed_roles(settings)}


def test_every_table_is_known_to_the_partition_check(tmp_path: Path) -> None:
    """The start-up check compares each table's changelog with the partition setting: it
    must know every table the agents keep (the benchmark's too)."""
    every = ",".join((*AGENT_NAMES, *BENCH_AGENTS))
    settings = Settings(_env_file=None, data_dir=tmp_path, agents=every)
    runtime = create_app(settings)
    assert set(runtime.app.tables) == set(TABLES)
