"""``rapport bench peers``' workload on the real stack: the Rapport ``peers`` agent gives
each event the record the reference function gives it, once; and the bench runs Quix
Streams on the same topic and finds the two engines' outputs identical."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from features.peer_workload import update
from streams.bench.features import feature_events
from streams.bench.peers import run_peers_bench
from streams.core.settings import Settings
from tests.integration.conftest import Scope
from tests.support.kafka_io import collect, create_topic, produce
from tests.support.workers import WorkerProcess, free_port

N = 3_000


def reference(events: list[tuple[bytes, bytes]]) -> dict[str, dict[str, object]]:
    """Each event's expected output: the workload applied per customer in order."""
    states: dict[str, dict[str, object]] = {}
    out = {}
    for _, raw in events:
        event = orjson.loads(raw)
        state, record = update(states.get(event["customer_id"]), event)
        states[event["customer_id"]] = state
        out[event["event_id"]] = record
    return out


async def test_peers_agent_gives_each_event_the_reference_record_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    events = feature_events(N, scope.name)
    await create_topic(scope.topic("interactions"), 4)
    await create_topic(scope.topic("peer_features"), 4)
    await produce(scope.topic("interactions"), events)
    start_worker(RAPPORT_AGENTS="peers")

    found = await collect(scope.topic("peer_features"), N, timeout=180, settle=3.0)

    records = [orjson.loads(r.value or b"{}") for r in found]
    ids = Counter(record["event_id"] for record in records)
    assert len(found) == N and set(ids.values()) == {1}, "one output per event"
    expected = reference(events)
    got = {record["event_id"]: record for record in records}
    wrong = [k for k in expected if got.get(k) != expected[k]]
    assert not wrong, (len(wrong), expected[wrong[0]], got.get(wrong[0]))
    # each output is keyed by its customer, so a customer's outputs stay in order
    assert all(r.key == rec["customer_id"].encode() for r, rec in zip(found, records, strict=True))


def test_bench_peers_runs_quix_streams_beside_rapport_with_identical_outputs(
    stack: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = stack.model_copy(
        update={
            "topic_prefix": "t.peers-bench.",
            "app_id": f"t-peers-{free_port()}",
            "data_dir": tmp_path,
        }
    )
    json_path = tmp_path / "peers.json"
    assert run_peers_bench(settings, argparse.Namespace(events=N, json=str(json_path))) == 0
    printed = capsys.readouterr().out
    rows = {
        m.group(1).strip(): float(m.group(2).replace(",", ""))
        for m in re.finditer(r"^(.{40}) +([\d,]+) +\d+\.\d{3} ", printed, re.M)
    }
    assert set(rows) == {
        "bare aiokafka consume-orjson-produce",
        "Quix Streams 3 (stateful apply)",
        "rapport (peers agent)",
    }, printed
    assert all(v > 0 for v in rows.values()), printed
    assert f"identical ({N:,} events)" in printed, printed
    assert re.search(r"rapport / Quix Streams: \d+\.\d\dx the events/s", printed), printed
    saved = orjson.loads(json_path.read_bytes())
    assert saved["differ"] == 0 and len(saved["runs"]) == 3
