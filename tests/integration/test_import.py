"""``rapport import`` of a 100,000-row file: every valid row once in ClickHouse, through a kill.

A user's export (ratings and orders of 5,000 customers over two months, 400 broken rows)
is checked with ``--dry-run`` (per-reason counts, nothing produced), then imported
against a running worker, the import SIGKILLed part way and run again: it resumes
after what Kafka acknowledged, and the ``events`` topic and ClickHouse's
``interactions`` end with every valid row exactly once, its values as in the file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from tests.integration.conftest import Scope
from tests.integration.test_sink import sql, wait_counts
from tests.support.events_factory import ids_of
from tests.support.kafka_io import collect
from tests.support.workers import WorkerProcess

ROWS = 100_000
CUSTOMERS = 5_000
MAPPING = """source = "shop"
type_from = "kind"
[fields]
event_id = "id"
customer_id = "customer"
occurred_at = "at"
score = "stars"
comment = "comment"
order_id = "id"
amount = "total"
currency = "currency"
[values.type]
csat = "rating"
purchase = "order"
"""
START = datetime(2025, 1, 1, tzinfo=UTC)


def broken(n: int) -> str | None:
    """Every 250th row is broken, in one of three ways (the reason it gets)."""
    if n % 250:
        return None
    return ("bad_time", "out_of_range", "unmapped_value")[(n // 250) % 3]


def write_export(path: Path) -> tuple[Counter[str], dict[str, float]]:
    """The file, the refusals it holds per reason, and what the valid rows add up to."""
    reasons: Counter[str] = Counter()
    customers: set[str] = set()
    want = {"ratings": 0.0, "stars": 0.0, "orders": 0.0, "amount": 0.0}
    lines = ["id,kind,customer,at,stars,comment,total,currency"]
    for n in range(1, ROWS + 1):
        at = (START + timedelta(seconds=50 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        customer = f"cust-{n * 7919 % CUSTOMERS}"
        kind, stars, total = ("csat", 1 + n % 5, "") if n % 2 else ("purchase", "", f"{n % 997}.5")
        fault = broken(n)
        if fault == "bad_time":
            at = "yesterday"
        elif fault == "out_of_range":
            kind, stars, total = "csat", 7, ""
        elif fault == "unmapped_value":
            kind = "refund"
        if fault:
            reasons[fault] += 1
        elif kind == "csat":
            customers.add(customer)
            want["ratings"] += 1
            want["stars"] += float(stars)
        else:
            customers.add(customer)
            want["orders"] += 1
            want["amount"] += float(total)
        comment = f'"thanks, order {n}"' if kind == "csat" else ""
        currency = "EUR" if kind == "purchase" else ""
        lines.append(f"r{n},{kind},{customer},{at},{stars},{comment},{total},{currency}")
    path.write_text("\n".join(lines) + "\n")
    want["customers"] = len(customers)  # some have only broken rows
    return reasons, want


def rapport_import(scope: Scope, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "streams.cli", "import", *args, "--quiet"]
    env = {**os.environ, **scope.env()}
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def produced_mark(scope: Scope) -> int:
    marks = list((scope.data_dir / "imports").glob("*.json"))
    return int(orjson.loads(marks[0].read_bytes())["produced"]) if marks else 0


async def test_an_import_killed_half_way_and_run_again_stores_every_valid_row_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    export, mapping = tmp_path / "export.csv", tmp_path / "export.toml"
    reasons, want = write_export(export)
    mapping.write_text(MAPPING)
    valid = ROWS - sum(reasons.values())
    args = (str(export), "--mapping", str(mapping))

    # a dry run reports every refusal by reason and produces nothing
    dry = await asyncio.to_thread(finish, rapport_import(scope, *args, "--dry-run"))
    assert f"read {ROWS:,} rows of export.csv: {valid:,} events" in dry
    assert f"of {int(want['customers']):,} customers" in dry
    for code, count in reasons.items():
        assert f"  {code}: {count:,}\n" in dry, dry
    assert "row 750: column 'at': 'yesterday' is not an ISO 8601 time" in dry
    assert not (scope.data_dir / "imports").exists()

    worker = start_worker(RAPPORT_AGENTS="ingest,sink")
    # an import paced to last a few seconds, killed once part of it is acknowledged
    first = rapport_import(scope, *args, "--rate", "15000")
    deadline = time.monotonic() + 120
    while produced_mark(scope) < valid // 3 and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()[1][-3000:]
        await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 30) == -9
    halfway = produced_mark(scope)
    assert valid // 3 <= halfway < valid

    again = await asyncio.to_thread(finish, rapport_import(scope, *args))
    resumed = int(again.split("resuming: the first ")[1].split(" events")[0].replace(",", ""))
    assert resumed == halfway
    assert f"produced {valid - resumed:,} events" in again
    done = await asyncio.to_thread(finish, rapport_import(scope, *args))
    assert f"already imported: all {valid:,} events" in done

    # every valid row once in the validated log, none of the broken ones
    out = await collect(scope.topic("events"), valid, timeout=180, settle=3)
    forwarded = Counter(ids_of([r.value for r in out]))
    assert len(forwarded) == valid and max(forwarded.values()) == 1
    assert "shop-r250" not in forwarded and "shop-r251" in forwarded

    # and in ClickHouse, with the file's values
    got = await wait_counts(worker, {"interactions": ""}, {"interactions": valid}, timeout=240)
    assert got == {"interactions": valid}, worker.log_tail(30)
    rows = sql(
        worker,
        "SELECT countIf(type = 'rating') AS ratings, sumIf(score, type = 'rating') AS stars, "
        "countIf(type = 'order') AS orders, round(sumIf(amount, type = 'order'), 1) AS amount, "
        "uniqExact(event_id) AS ids, uniqExact(customer_id) AS customers, "
        "min(occurred_at) AS first FROM interactions",
    )[0]
    assert float(rows["ratings"]) == want["ratings"] and float(rows["stars"]) == want["stars"]
    assert float(rows["orders"]) == want["orders"]
    assert float(rows["amount"]) == round(want["amount"], 1)
    assert int(rows["ids"]) == valid and int(rows["customers"]) == want["customers"]
    assert str(rows["first"]).startswith("2025-01-01 00:00:50")
    dlq = await collect(scope.topic("dlq"), 0, timeout=1, settle=1)
    assert dlq == []
