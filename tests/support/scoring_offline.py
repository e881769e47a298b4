"""The scorer run offline over records of the events topic, in a child process.

River's k-means sums distances over a ``set`` of feature names, whose order depends
on the interpreter's hash seed, so segment assignments (and the insights the
publication rule derives from them) are bit-exact only under the same
``PYTHONHASHSEED``: the workers of the scoring tests run with ``HASH_SEED`` and so
does this reference run.

    python -m tests.support.scoring_offline records.jsonl insights.jsonl
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Final

import orjson

from agents.customer_features.agent import rules_of
from agents.scoring.agent import config_of
from schemas.events import Event, parse_event
from schemas.examples import Example, is_example
from schemas.published import Insight
from streams.core.settings import Settings
from tests.support.scoring import score_partitions

HASH_SEED: Final = "0"


def expected(
    records: Sequence[tuple[int, int, Event | Example]],
    env: dict[str, str],
    workdir: Path,
    fresh_at: Collection[tuple[int, int]] = (),
) -> list[Insight]:
    """The insights of ``records`` as a worker started with ``env`` gives them (models
    restarting fresh at ``fresh_at``, see ``score_partitions``)."""
    source, target = workdir / "records.jsonl", workdir / "insights.jsonl"
    with source.open("wb") as out:
        for partition, offset, event in records:
            fresh = (partition, offset) in fresh_at
            if isinstance(event, Example):
                row = [partition, offset, {"#example": orjson.loads(event.encode())}, fresh]
            else:
                row = [partition, offset, event.model_dump(mode="json"), fresh]
            out.write(orjson.dumps(row) + b"\n")
    child_env = {**os.environ, **env, "PYTHONHASHSEED": HASH_SEED}
    subprocess.run(
        [sys.executable, "-m", "tests.support.scoring_offline", str(source), str(target)],
        env=child_env,
        check=True,
        timeout=300,
    )
    return [Insight.model_validate_json(line) for line in target.read_bytes().splitlines()]


def main(source: str, target: str) -> None:
    settings = Settings()
    records: list[tuple[int, int, Event | Example]] = []
    fresh_at = []
    for line in Path(source).read_bytes().splitlines():
        partition, offset, event, fresh = orjson.loads(line)
        if "#example" in event:
            found: Event | Example = Example.decode(orjson.dumps(event["#example"]))
        else:
            found = parse_event(orjson.dumps(event))
        records.append((int(partition), int(offset), found))
        if fresh:
            fresh_at.append((int(partition), int(offset)))
    insights = score_partitions(records, config_of(settings), rules_of(settings), fresh_at)
    Path(target).write_bytes(b"".join(i.model_dump_json().encode() + b"\n" for i in insights))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])


def parse_record(key: bytes | None, value: bytes | None) -> Event | Example:
    """A record of ``events``: an event, or a shared labelled example."""
    return Example.decode(value) if is_example(key) else parse_event(value or b"")
