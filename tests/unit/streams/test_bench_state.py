"""``rapport bench state`` prints the state per customer, the feature engine's memory and
the dedup index's memory per event id, from a real run of the engine and the index."""

from __future__ import annotations

import argparse
import re

import pytest

from streams.bench.state import run_state_bench

N = 4_000


def test_bench_state_prints_bounded_state_and_dedup_bytes_per_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_state_bench(argparse.Namespace(events=N, customers=400)) == 0
    out = capsys.readouterr().out
    found = re.search(r"^([\d,]+) events, ([\d,]+) customers", out, re.M)
    assert found and int(found[1].replace(",", "")) == N, out
    customers = int(found[2].replace(",", ""))
    assert 0 < customers <= 400
    mean = re.search(r"feature state per customer: mean ([\d,]+) B", out)
    assert mean and int(mean[1].replace(",", "")) <= 1024, out
    engine = re.search(r"feature engine in memory: ([\d.]+) MiB \(([\d,]+) decoded states", out)
    assert engine and float(engine[1]) > 0 and int(engine[2].replace(",", "")) == customers
    dedup = re.search(
        r"dedup index: ([\d,]+) of ([\d,]+) event ids kept, ([\d.]+) MiB in memory "
        r"\(([\d.]+) B per id\)",
        out,
    )
    assert dedup, out
    assert dedup[1] == dedup[2] == f"{N:,}", "every distinct id of the run is kept"
    assert 0 < float(dedup[4]) < 300, "a hash and an offset, not a string, per id"
