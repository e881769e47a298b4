"""Two scoring workers share the partitions of ``events``: every insight is published
once, each partition's model set lives on one worker; one worker is SIGKILLed after
its partitions were checkpointed, the survivor restores their sets from Redis and
continues them: the insights stay exactly the offline ones, none lost or doubled.

A SIGKILL writes no last checkpoint and commits no last offset: in general it loses
up to one checkpoint interval of learning (the events learnt since the last save
are committed, so they are not learnt again) and redelivers the events since the
last commit (scored again, same insight ids). This test kills only once every
partition's checkpoint holds its last scored event and the group committed every
offset, so the expected loss is zero and no event is redelivered: the insights must
equal the offline scorer's over all the records, with no duplicate at all.

Which worker scored a partition: the ``rapport_model_version{partition}`` gauges of
each worker's ``/metrics`` (a worker exports them for the sets it holds), the
``rapport_scoring_insights_total`` counters (summed over the workers: every insight
once) and the survivor's ``restored (version, offset, sequence)`` log lines.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence

from agents.customer_features.agent import rules_of
from agents.scoring.agent import SCORED
from agents.scoring.state import PartitionModels
from agents.scoring.store import ModelStore
from features.engine import FeatureEngine
from online_models.checkpoint import Checkpointer
from schemas.events import Event, parse_event
from schemas.examples import Example, is_example
from schemas.published import Insight
from tests.integration.conftest import Scope
from tests.support.events_factory import ids_of
from tests.support.features_worker import WORKER_ENV, replay, send, wire
from tests.support.kafka_io import collect, end_offsets, wait_committed
from tests.support.scoring_offline import HASH_SEED, parse_record
from tests.support.scoring_offline import expected as offline
from tests.support.workers import WorkerProcess, metric

N = 900
ENV = {
    **WORKER_ENV,
    "RAPPORT_DRAFTING_ENABLED": "false",
    # the offline reference scores every event; coalesced steps follow batch boundaries
    "RAPPORT_MODELS_COALESCE": "false",
    "RAPPORT_MODELS_CHECKPOINT_INTERVAL_S": "1",
    "PYTHONHASHSEED": HASH_SEED,  # segments are bit-exact per hash seed: scoring_offline
}
RESTORED = re.compile(
    r"scoring: partition (\d+) restored \(version (\d+), offset (-?\d+), sequence (\d+)\)"
)
Records = list[tuple[int, int, Event | Example]]
"""The events topic's records: events, and the labelled examples the scoring stage shares."""


def model_partitions(port: int) -> set[int]:
    """The partitions a worker holds (or held) a model set of: its version gauges."""
    return {int(labels["partition"]) for labels, _ in metric(port, "rapport_model_version")}


def insights_sent(port: int) -> int:
    return int(sum(v for _, v in metric(port, "rapport_scoring_insights_total")))


def restored(port: int) -> float:
    samples = metric(port, "rapport_scoring_checkpoints_total")
    return sum(v for labels, v in samples if labels["outcome"] == "restored")


async def events_topic(scope: Scope, ids: set[str]) -> Records:
    """Every produced event on the events topic. A record processed and not yet committed
    when the group rebalances (the dead worker leaving) is read and forwarded again:
    at-least-once, so copies are allowed, but only exact copies of produced events
    (the feature engine drops them by event id, as the offline run does)."""
    deadline = time.monotonic() + 60
    while True:  # copies count towards len(ids): read until every id is there
        records = await collect(
            scope.topic("events"), len(ids), timeout=60, settle=2, examples=True
        )
        out = [(r.partition, r.offset, parse_record(r.key, r.value)) for r in records]
        seen = {e.event_id for _, _, e in out if not isinstance(e, Example)}
        if seen >= ids or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert seen == ids, f"missing {sorted(ids - seen)[:5]}, unknown {sorted(seen - ids)[:5]}"
    payloads: dict[str, set[bytes]] = {}
    for r in records:
        if not is_example(r.key):
            payloads.setdefault(parse_event(r.value or b"").event_id, set()).add(r.value or b"")
    assert all(len(v) == 1 for v in payloads.values()), "copies are exact copies"
    return out


async def insights_topic(scope: Scope, count: int) -> list[Insight]:
    records = await collect(scope.topic("insights"), count, timeout=90, settle=3)
    return [Insight.model_validate_json(r.value or b"") for r in records]


def check_exact(got: Sequence[Insight], want: Sequence[Insight], records: Records) -> None:
    """Exactly the offline insights, none twice; one sentiment and one intent insight
    per inbound message."""
    counts = Counter(i.insight_id for i in got)
    assert [k for k, n in counts.items() if n > 1] == [], "no insight twice"
    assert set(counts) == {i.insight_id for i in want}, "exactly the offline insights"
    by_id = {i.insight_id: i for i in got}
    for insight in want:
        found = by_id[insight.insight_id]
        assert (found.model, found.prediction, found.model_version) == (
            insight.model,
            insight.prediction,
            insight.model_version,
        ), insight.insight_id
    inbound = {
        e.event_id
        for _, _, e in records
        if not isinstance(e, Example) and e.type == "message" and e.direction == "inbound"
    }
    assert len(inbound) > 100
    for model in ("sentiment", "intent"):
        assert {i.event_id for i in got if i.model == model} == inbound, model


def last_scored(records: Records, scope: Scope) -> dict[int, int]:
    """Per partition, the offset of the last event the scorer learns from (what an up
    to date checkpoint holds as its set's ``offset``)."""
    settings = scope.settings()
    engine = FeatureEngine({}, {}, rules_of(settings), dedup_span=settings.features_dedup_span)
    out: dict[int, int] = {}
    for partition, offset, event in sorted(records, key=lambda r: (r[0], r[1])):
        if isinstance(event, Example) or engine.process(event, partition, offset).status in SCORED:
            out[partition] = offset  # an example moves the set's offset too
    return out


async def checkpoints(scope: Scope, partitions: set[int]) -> dict[int, tuple[int, PartitionModels]]:
    """The stored, verified checkpoint (sequence, model set) of each partition that has one."""
    settings = scope.settings()
    store = ModelStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix)
    key = settings.models_checkpoint_key.get_secret_value().encode()
    out = {}
    try:
        for partition in sorted(partitions):
            stored = await store.load(partition)
            if stored is not None and stored.blob is not None:
                models, info = Checkpointer(key).load(stored.blob, PartitionModels)
                assert info.sequence == stored.sequence, partition
                assert models.partition == partition
                out[partition] = (stored.sequence, models)
    finally:
        await store.close()
    return out


async def checkpointed(
    scope: Scope, last: dict[int, int], timeout: float = 30.0
) -> dict[int, tuple[int, PartitionModels]]:
    """Poll Redis until every partition's checkpoint holds its last scored event."""
    deadline = time.monotonic() + timeout
    found: dict[int, tuple[int, PartitionModels]] = {}
    while time.monotonic() < deadline:
        found = await checkpoints(scope, set(last))
        if {p: m.offset for p, (_, m) in found.items()} == last:
            return found
        await asyncio.sleep(0.25)
    got = {p: m.offset for p, (_, m) in found.items()}
    raise AssertionError(f"checkpoints not up to date: {got} != {last}")


def intent_versions(got: Sequence[Insight], records: Records, prefix: str) -> dict[int, list[int]]:
    partition_of = {e.event_id: p for p, _, e in records if not isinstance(e, Example)}
    out: dict[int, list[int]] = {}
    for insight in got:
        if insight.model == "intent" and insight.event_id.startswith(prefix):
            out.setdefault(partition_of[insight.event_id], []).append(insight.model_version)
    return out


async def test_two_workers_split_then_survivor_restores_checkpoints(
    scope: Scope, start_worker: Callable[..., WorkerProcess]
) -> None:
    first = start_worker(**ENV, RAPPORT_AGENTS="processing")
    second = start_worker(**ENV, RAPPORT_AGENTS="processing")
    first.wait_ready(60)  # the rebalance that gave the second worker its share is over

    # 1. both workers score; each partition's set lives on one of them
    batch1 = wire(replay(N, seed=41))
    await send(scope, batch1)
    records1 = await events_topic(scope, set(ids_of([v for _, v in batch1])))
    want1 = offline(records1, scope.env(**ENV), scope.data_dir)
    got1 = await insights_topic(scope, len(want1))
    check_exact(got1, want1, records1)
    partitions = {p for p, _, _ in records1}
    owned = {w.port: model_partitions(w.port) for w in (first, second)}
    assert owned[first.port] and owned[second.port], f"both workers score: {owned}"
    assert not owned[first.port] & owned[second.port], f"a set on two workers: {owned}"
    assert owned[first.port] | owned[second.port] == partitions, owned
    assert insights_sent(first.port) + insights_sent(second.port) == len(got1), (
        "each insight was sent by one worker"
    )

    # 2. every partition checkpointed up to its last event, every offset committed
    last = last_scored(records1, scope)
    assert set(last) == partitions
    at_kill = await checkpointed(scope, last)
    ends = await end_offsets(scope.topic("interactions"), len(batch1))
    ends.update(await end_offsets(scope.topic("events"), len(batch1)))
    await wait_committed(scope.env()["RAPPORT_APP_ID"], ends)
    dead, survivor = first, second
    taken = owned[dead.port]
    dead.kill()
    sent_before = insights_sent(survivor.port)
    versions1 = intent_versions(got1, records1, "")

    # 3. more events: the survivor takes the dead worker's partitions over
    batch2 = wire(replay(N // 2, seed=42), id_prefix="b2-")
    await send(scope, batch2)
    records = await events_topic(scope, set(ids_of([v for _, v in batch1 + batch2])))
    want = offline(records, scope.env(**ENV), scope.data_dir)
    got = await insights_topic(scope, len(want))
    check_exact(got, want, records)  # zero loss: the same insights as an uninterrupted run
    new = len(got) - len(got1)
    assert new > 0
    assert insights_sent(survivor.port) - sent_before == new, "the survivor sent every new one"

    # its sets of the taken partitions are the checkpointed ones, continued
    log = survivor.log_path.read_text(errors="replace")
    restores: dict[int, tuple[int, ...]] = {}  # the first restore of each partition
    for found in RESTORED.finditer(log):
        restores.setdefault(int(found[1]), tuple(map(int, found.groups()[1:])))
    assert restored(survivor.port) >= len(taken)
    versions2 = intent_versions(got, records, "b2-")
    for partition in taken:
        sequence, models = at_kill[partition]
        assert models.version > 0 and models.models["intent"].version > 0, partition
        assert restores.get(partition) == (models.version, models.offset, sequence), (
            partition,
            restores,
        )
        assert versions2.get(partition), partition
        assert min(versions2[partition]) >= models.models["intent"].version, partition
        assert min(versions2[partition]) >= max(versions1[partition]) > 0, partition

    # and its checkpoints of them continue the sequence
    after = await checkpoints(scope, taken)
    deadline = time.monotonic() + 15
    while any(after[p][0] <= at_kill[p][0] for p in taken) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        after = await checkpoints(scope, taken)
    for partition in taken:
        assert after[partition][0] > at_kill[partition][0], partition
        assert after[partition][1].version > at_kill[partition][1].version, partition
    assert survivor.alive()
