"""Session fixtures: the real local stack, once; per-test topics, data dirs and workers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from streams.core.settings import Settings
from streams.stack import control
from tests.support.workers import WorkerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """Kafka, Redis and the LLM server up for the whole session; stops only what it started."""
    settings = Settings(_env_file=None, data_dir=ROOT / ".rapport")
    started = control.up(settings, with_llm=True)
    yield settings
    if started:
        control.down(settings, only=started)


@dataclass
class Scope:
    """Names unique to one test: topic prefix, app id, Redis prefix, data dir."""

    name: str
    data_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"t.{self.name}."

    def topic(self, role: str) -> str:
        return f"{self.prefix}{role.replace('_', '-')}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "RAPPORT_APP_ID": f"t-{self.name}",
            "RAPPORT_TOPIC_PREFIX": self.prefix,
            "RAPPORT_REDIS_KEY_PREFIX": f"t:{self.name}:",
            "RAPPORT_DATA_DIR": str(self.data_dir),
            "RAPPORT_CLICKHOUSE_DSN": f"chdb://{self.data_dir / 'chdb'}",
            "RAPPORT_WEB_PORT": str(free_port()),
            "RAPPORT_LOG_LEVEL": "info",
        }
        env.update(extra)
        return env

    def settings(self) -> Settings:
        """The test's settings, as a worker started with ``env()`` sees them."""
        env = {k.removeprefix("RAPPORT_").lower(): v for k, v in self.env().items()}
        return Settings.model_validate({**env, "web_port": 6066})


@pytest.fixture
def scope(request: pytest.FixtureRequest, tmp_path: Path, stack: Settings) -> Iterator[Scope]:
    safe = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:40].strip("-")
    sc = Scope(f"{safe}-{uuid.uuid4().hex[:8]}", tmp_path)
    yield sc
    for worker in sc.workers:
        worker.stop()


@pytest.fixture
def start_worker(scope: Scope) -> Callable[..., WorkerProcess]:
    def start(wait_ready: float = 90.0, command: str = "worker", **env: str) -> WorkerProcess:
        log = scope.data_dir / f"{command}-{len(scope.workers)}.log"
        worker = WorkerProcess(scope.env(**env), log, command)
        scope.workers.append(worker)
        return worker.start(wait_ready)

    return start
