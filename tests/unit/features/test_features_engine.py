"""The streaming engine against the batch recomputation, with crashes and re-forwards.

A simulated worker applies a replay (synthetic with out-of-order and late events,
real Bitext and Telco records, erasures and a replay of erased customers' old
events) partition by partition. It crashes at random: the table keeps only a
random durable prefix of its changelog (never less than what was flushed at the
last commit), processing restarts at the committed offset, and ingest re-forwards
copies of the events it had not committed. The result must equal the batch
recomputation exactly (ratios within 1e-9).
"""

from __future__ import annotations

from collections import Counter
from random import Random

import pytest

from features.batch import recompute
from features.definitions import FEATURE_NAMES, Rules, Vector
from features.engine import FeatureEngine
from features.vector import vector
from schemas.events import Event
from tests.support.features import (
    LoggedTable,
    diff,
    partition_of,
    replay_events,
    with_erasures,
)

PARTITIONS = 3
SPAN = 5_000


class SimulatedWorker:
    """Ingest and the feature agent of one worker over ``PARTITIONS`` partitions."""

    def __init__(self, rules: Rules, rnd: Random) -> None:
        self.rules, self.rnd = rules, rnd
        self.table, self.erasures = LoggedTable(), LoggedTable()
        self.logs: dict[int, list[Event]] = {p: [] for p in range(PARTITIONS)}
        self.position = dict.fromkeys(range(PARTITIONS), 0)
        self.committed = dict.fromkeys(range(PARTITIONS), 0)
        self.durable_log = dict.fromkeys(range(PARTITIONS), 0)
        self.flushed: dict[str, dict[int, int]] = {"table": {}, "erasures": {}}
        self.uncommitted: dict[int, list[Event]] = {p: [] for p in range(PARTITIONS)}
        self.outcomes: Counter[str] = Counter()
        self.crashes = 0
        self.engine = self._new_engine()

    def _new_engine(self) -> FeatureEngine:
        engine = FeatureEngine(self.table, self.erasures, self.rules, dedup_span=SPAN)
        for p, log in self.logs.items():
            start = max(0, self.committed[p] - SPAN)
            engine.seed_recent(p, [(o, log[o].event_id) for o in range(start, self.committed[p])])
        return engine

    def backlog(self) -> int:
        return sum(len(log) - self.position[p] for p, log in self.logs.items())

    def forward(self, event: Event) -> None:
        """Ingest forwards one event; it is uncommitted until the next commit."""
        p = partition_of(event.customer_id, PARTITIONS)
        self.logs[p].append(event)
        self.uncommitted[p].append(event)

    def process(self, budget: int) -> None:
        for p, log in self.logs.items():
            while self.position[p] < len(log) and budget > 0:
                offset = self.position[p]
                self.table.partition = self.erasures.partition = p
                self.outcomes[self.engine.process(log[offset], p, offset).status] += 1
                self.position[p] += 1
                budget -= 1

    def commit(self) -> None:
        """Faust flushes the producer (changelog and forwards), then commits both agents."""
        self.committed = dict(self.position)
        self.durable_log = {p: len(log) for p, log in self.logs.items()}
        for name, table in (("table", self.table), ("erasures", self.erasures)):
            self.flushed[name] = {p: len(log) for p, log in table.changelog.items()}
        self.uncommitted = {p: [] for p in range(PARTITIONS)}

    def crash(self) -> None:
        """SIGKILL: writes not yet flushed may be lost (changelog records and forwarded
        events nobody has read); both agents restart at the committed offsets and ingest
        forwards its uncommitted events again."""
        self.crashes += 1
        same_store = self.rnd.random() < 0.5  # restarted on its local RocksDB, or moved
        for name, table in (("table", self.table), ("erasures", self.erasures)):
            durable = {
                p: self.rnd.randint(self.flushed[name].get(p, 0), len(log))
                for p, log in table.changelog.items()
            }
            table.recover(durable, keep_local=same_store)
        again = self.uncommitted
        self.uncommitted = {p: [] for p in range(PARTITIONS)}
        for p, log in self.logs.items():
            keep = self.rnd.randint(max(self.position[p], self.durable_log[p]), len(log))
            del log[keep:]
        for events in again.values():
            for event in events:
                self.forward(event)
        self.position = dict(self.committed)
        self.engine = self._new_engine()

    def vectors(self) -> dict[str, Vector]:
        return vectors_of(self.engine, self.rules)


def vectors_of(engine: FeatureEngine, rules: Rules) -> dict[str, Vector]:
    out = {}
    for customer in engine.table:
        state = engine.state(customer)
        assert state is not None
        out[customer] = vector(state, rules)
    return out


def run(events: list[Event], rules: Rules, seed: int, crash_p: float) -> SimulatedWorker:
    rnd = Random(seed)
    worker = SimulatedWorker(rules, rnd)
    sent = 0
    while sent < len(events) or worker.backlog():
        chunk = rnd.randint(1, 60)
        for event in events[sent : sent + chunk]:
            worker.forward(event)
        sent += chunk
        worker.process(rnd.randint(1, 90))
        if rnd.random() < 0.3:
            worker.commit()
        if rnd.random() < crash_p:
            worker.crash()
    return worker


def test_engine_equals_batch_in_one_pass() -> None:
    events = replay_events(4_000)
    rules = Rules()
    engine = FeatureEngine({}, {}, rules)
    for offset, event in enumerate(events):
        engine.process(event, 0, offset)
    streamed = vectors_of(engine, rules)
    expected = recompute(events, rules)
    assert len(expected) > 300
    assert diff(streamed, expected) == []
    assert all(list(v) == list(FEATURE_NAMES) for v in streamed.values())
    assert sum(int(v["late_events"] or 0) for v in expected.values()) > 50, "late events tested"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_crashes_and_reforwards_change_nothing(seed: int) -> None:
    events = replay_events(5_000, seed=seed)
    erased = [c for c, _ in Counter(e.customer_id for e in events).most_common(12)][2::3]
    events = with_erasures(events, erased)
    rules = Rules(lateness_s=1_800, cart_abandon_s=2_700)
    worker = run(events, rules, seed, crash_p=0.05)
    assert worker.crashes >= 5
    assert worker.outcomes["replayed"] > 0 and worker.outcomes["duplicate"] > 0
    assert worker.outcomes["erased"] > 0 and worker.outcomes["late"] > 0
    expected = recompute(events, rules)
    assert diff(worker.vectors(), expected) == []
    worker.commit()  # what the changelog alone holds is exact too (a worker taking over)
    takeover = FeatureEngine(worker.table.from_changelog(), worker.erasures.from_changelog(), rules)
    assert diff(vectors_of(takeover, rules), expected) == []
    for customer in erased:
        assert customer in worker.erasures
        old = [e for e in events if e.customer_id == customer and e.event_id.startswith("again-")]
        assert old, "the erased customer's old events were replayed"


def test_reforward_beyond_the_span_is_counted_twice() -> None:
    """The stated limit: a copy further than ``dedup_span`` offsets away is not caught."""
    events = replay_events(300)
    engine = FeatureEngine({}, {}, Rules(), dedup_span=10)
    for offset, event in enumerate([*events, events[0]]):
        engine.process(event, 0, offset)
    state = engine.state(events[0].customer_id)
    assert state is not None
    once = recompute(events, Rules())[events[0].customer_id]
    assert vector(state, Rules())["events"] == int(once["events"] or 0) + 1
