"""``rapport bench soak`` end to end, short: a worker under a steady stream for a minute.

Runs the bench's own entry point on the real stack with drafting off (the drafting path
is the LLM's, measured by the long run) and checks what it prints: a sample per period
with the worker's RSS and traced heap growing from its start, the heap sites grown since
the warm-up's mark, and every event sent accounted for by ingest with the lag back to 0.
"""

from __future__ import annotations

import argparse
import re
import socket
import uuid
from pathlib import Path

import pytest

from streams.bench.soak import run_soak
from streams.core.settings import Settings

RATE = 20.0
MINUTES = 1.0
ROW = re.compile(
    r"^\s*(\d+\.\d)\s+(\d+)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)"
    r"\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)$"
)
"""minute, RSS, heap, RocksDB, chDB, feature keys, cached states, dedup ids, lag, sent,
consumed"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_bench_soak_samples_memory_and_accounts_for_every_event(
    stack: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = stack.model_copy(
        update={
            "topic_prefix": f"t.soak-{tag}.",
            "app_id": f"t-soak-{tag}",
            "redis_key_prefix": f"t:soak-{tag}:",
            "data_dir": tmp_path,
            "web_port": _free_port(),
        }
    )
    args = argparse.Namespace(
        rate=RATE, minutes=MINUTES, drafting="off", warmup_minutes=0.5, every=10.0, population=50
    )
    assert run_soak(settings, args) == 0
    printed = capsys.readouterr().out
    rows = [m.groups() for line in printed.splitlines() if (m := ROW.match(line))]
    assert len(rows) >= 5, printed  # every 10 s over a minute, and the final one
    rss = [int(r[1]) for r in rows]
    heap = [float(r[2]) for r in rows]
    assert all(r > 100 for r in rss) and heap[-1] > 0, printed
    rocksdb = [float(r[3]) for r in rows]
    assert rocksdb[-1] > 0, "RocksDB's memtables hold the tables' recent writes"
    assert float(rows[-1][4]) > 0, "chDB tracks the memory of the sink's inserts"
    states, dedup = (int(rows[-1][i].replace(",", "")) for i in (6, 7))
    assert 0 < states <= 50, "decoded states in memory: at most the population's customers"
    sent = [int(r[9].replace(",", "")) for r in rows]
    assert sent == sorted(sent) and sent[-1] >= RATE * MINUTES * 60 * 0.9, printed
    final = rows[-1]
    assert int(final[8].replace(",", "")) == 0, "lag 0 at the end"
    assert int(final[10].replace(",", "")) == sent[-1], "ingest consumed every event sent"
    assert dedup == sent[-1], "every event id of the run in the dedup index"
    assert "RocksDB memory at the end" in printed and "dedup-ids" in printed, printed
    assert "sites grown most since minute" in printed
    assert re.search(r"^\s+[+-]\d+\.\d\d MiB\s+[+-][\d,]+\s+\S+:\d+$", printed, re.M), printed
    assert re.search(r"RSS \d+ MiB at minute 0\.\d -> \d+ MiB at the end", printed), printed
    assert f"sent {sent[-1]:,}; out of ingest {sent[-1]:,}" in printed
    assert "nothing lost; lag 0" in printed
