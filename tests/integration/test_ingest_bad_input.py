"""Bad input on the real topic: every bad record dead-lettered with a specific reason,
every valid one forwarded exactly once, duplicates dropped, the worker still running."""

from __future__ import annotations

import base64
import urllib.request
from collections import Counter
from collections.abc import Callable

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.corpus.bad_inputs import bad_inputs, valid_events
from tests.integration.conftest import Scope
from tests.support.events_factory import ids_of
from tests.support.kafka_io import collect, produce
from tests.support.workers import WorkerProcess


def dead_letter_counts(port: int) -> Counter[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "rapport_dead_letters_total":
                counts[sample.labels["reason_code"]] += int(sample.value)
            if sample.name == "rapport_duplicates_dropped_total":
                counts["<duplicates>"] += int(sample.value)
    return counts


async def test_bad_inputs_are_dead_lettered_and_valid_ones_processed_once(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    bad = bad_inputs()
    assert len(bad) >= 30
    valid = valid_events(300, seed=7)
    duplicates = valid[:40]  # the same event ids sent again
    records: list[tuple[bytes | None, bytes | None]] = []
    for i, (key, value) in enumerate(valid):
        records.append((key, value))
        if i < len(bad):
            records.append((bad[i].key, bad[i].value))
    records.extend(duplicates)
    await produce(scope.topic("interactions"), records)

    out = await collect(scope.topic("events"), len(valid), timeout=90, settle=3)
    dlq = await collect(scope.topic("dlq"), len(bad), timeout=60, settle=2)

    sent_ids = [str(orjson.loads(v)["event_id"]) for _, v in valid]
    got = Counter(ids_of([r.value for r in out]))
    assert got == Counter(sent_ids), "every valid event forwarded exactly once"

    assert len(dlq) == len(bad)
    letters = {}
    for record in dlq:
        letter = record.json()
        raw = str(letter["payload"])
        original = base64.b64decode(raw) if letter["payload_encoding"] == "base64" else raw.encode()
        letters[(record.key, original)] = letter
    for case in bad:
        found = letters.get((case.key, case.value or b""))
        assert found is not None, f"{case.name}: not dead-lettered with its original bytes"
        assert found["reason_code"] == case.reason_code, (case.name, found["reason"])
        assert case.reason_contains in str(found["reason"]), (case.name, found["reason"])
        assert found["topic"] == scope.topic("interactions")
        assert isinstance(found["offset"], int) and isinstance(found["partition"], int)
        assert found["dead_lettered_at"]

    assert worker.alive()
    counts = dead_letter_counts(worker.port)
    assert counts["<duplicates>"] == len(duplicates)
    del counts["<duplicates>"]
    assert counts == Counter(case.reason_code for case in bad)
