"""``rapport sql`` answers the documented queries while a replay flows into the worker."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import orjson

from sinks.clickhouse.queries import EXAMPLES
from tests.integration.conftest import Scope
from tests.integration.test_sink import QUIET
from tests.support.workers import WorkerProcess, free_port


async def rapport(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streams.cli",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def count(env: dict[str, str]) -> int:
    code, out, err = await rapport(
        env, "sql", "SELECT count() AS n FROM interactions", "--format", "csv"
    )
    assert code == 0, err
    header, value = out.split()
    assert header == '"n"'
    return int(value)


async def test_sql_answers_the_example_queries_during_a_replay(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(**QUIET)
    env = worker.env
    replay = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams.cli", "replay", "--source", "synthetic,bitext", "--limit",
        "1200", "--rate", "100", "--quiet", env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.sleep(3)
        first = await count(env)
        answers = await asyncio.gather(*(
            rapport(env, "sql", sql, "--format", "json") for _, sql in EXAMPLES.values()
        ))  # fmt: skip
        assert replay.returncode is None, "the queries should be answered while the replay runs"
        for name, (code, out, err) in zip(EXAMPLES, answers, strict=True):
            assert code == 0, (name, err)
            assert all(isinstance(orjson.loads(line), dict) for line in out.splitlines()), name
        code, out, err = await rapport(env, "sql", EXAMPLES["volume_by_channel"][1])
        assert code == 0, err
        assert "messages" in out and "rows in" in out  # the table format, with its footer
        later = await count(env)
        assert 0 < first < later, "rows land while queries are answered"

        code, _, err = await rapport(env, "sql", "DROP TABLE interactions")
        assert code == 2 and "read-only" in err
        code, _, err = await rapport(env, "sql", "SELECT * FROM interactions SETTINGS readonly=0")
        assert code == 2 and "readonly" in err.lower()
        code, out, _ = await rapport(env, "sql", "--examples")
        assert code == 0 and "kpi_load_reduction_daily" in out
        # the chDB writer is found through its lease, whatever RAPPORT_WEB_PORT says
        code, _, err = await rapport(
            {**env, "RAPPORT_WEB_PORT": str(free_port())}, "sql", "SELECT 1"
        )
        assert code == 0, err
        code, _, err = await rapport(
            env, "sql", "--url", f"http://127.0.0.1:{free_port()}", "SELECT 1"
        )
        assert code == 2 and "no worker answers" in err and "one process per path" in err
    finally:
        if replay.returncode is None:
            replay.terminate()  # enough shown; the rest of the replay is not needed
        await replay.wait()
