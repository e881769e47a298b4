"""The publisher: every change reaches Redis at the next flush; snapshots are limited to
one per customer per interval, the last change is never lost; erasures and failures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from features.definitions import Rules
from features.engine import FeatureEngine
from features.publisher import Publisher
from features.state import CustomerState
from features.store import FeatureStore, FeatureStoreError, Row
from schemas.published import FeatureSnapshot
from tests.support.features import at, make_event


class FakeStore(FeatureStore):
    def __init__(self) -> None:
        super().__init__("redis://unused", "t:", 60)
        self.rows: list[Row] = []
        self.deleted: list[str] = []
        self.fail = False

    async def write(self, rows: Sequence[Row], deletes: Iterable[str] = ()) -> None:
        if self.fail:
            raise FeatureStoreError("Redis write failed: connection refused")
        self.rows += rows
        self.deleted += deletes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def page_view(n: int, customer: str = "c1") -> dict[str, object]:
    return {
        "type": "page_view",
        "event_id": f"e{n}",
        "customer_id": customer,
        "occurred_at": at(n),
        "source": "t",
        "url": "/",
    }


class Rig:
    def __init__(self) -> None:
        self.engine = FeatureEngine({}, {}, Rules())
        self.store = FakeStore()
        self.sent: list[tuple[str, bytes | None]] = []
        self.clock = Clock()
        self.publisher = Publisher(
            self.store, self.send, Rules(), snapshot_interval_s=1.0, clock=self.clock
        )
        self.offset = 0

    async def send(self, key: str, value: bytes | None) -> None:
        self.sent.append((key, value))

    def event(self, n: int, customer: str = "c1") -> None:
        outcome = self.engine.process(make_event(page_view(n, customer)), 0, self.offset)
        self.offset += 1
        self.publisher.changed(outcome.customer_id)

    def read(self, customer_id: str) -> CustomerState | None:
        return self.engine.state(customer_id)

    async def flush(self, actives: set[int] | None = None) -> int:
        owned = {0} if actives is None else actives
        return await self.publisher.flush(self.read, lambda: owned)


def events_in(value: bytes | None) -> object:
    assert value is not None
    return FeatureSnapshot.model_validate_json(value).features["events"]


async def test_redis_every_flush_snapshots_rate_limited_and_trailing() -> None:
    rig = Rig()
    rig.event(1)
    assert await rig.flush() == 1
    assert [events_in(v) for _, v in rig.sent] == [1]
    rig.clock.now += 0.3
    rig.event(2)
    rig.event(3)
    assert await rig.flush() == 1
    assert [r.features["events"] for r in rig.store.rows] == [1, 3]
    assert len(rig.sent) == 1, "within the interval: coalesced"
    rig.clock.now += 0.5
    assert await rig.flush() == 0
    assert len(rig.sent) == 1
    rig.clock.now += 0.3
    await rig.flush()
    assert [events_in(v) for _, v in rig.sent] == [1, 3], "the trailing snapshot has the last state"
    assert rig.publisher.pending == 0
    snapshot = FeatureSnapshot.model_validate_json(rig.sent[-1][1] or b"")
    assert snapshot.as_of.isoformat() == at(3) and snapshot.customer_id == "c1"


async def test_erasure_deletes_and_sends_a_tombstone_at_once() -> None:
    rig = Rig()
    rig.event(1)
    await rig.flush()
    rig.clock.now += 0.1
    rig.publisher.erased("c1", 0)
    await rig.flush()
    assert rig.store.deleted == ["c1"]
    assert rig.sent[-1] == ("c1", None)


async def test_store_failure_keeps_the_customers_for_the_next_flush() -> None:
    rig = Rig()
    rig.event(1)
    rig.store.fail = True
    assert await rig.flush() == 0
    assert rig.publisher.pending == 1
    rig.store.fail = False
    assert await rig.flush() == 1
    assert rig.store.rows[-1].customer_id == "c1"


async def test_customers_of_partitions_not_owned_are_not_published() -> None:
    rig = Rig()
    rig.event(1)
    assert await rig.flush(actives={1}) == 0
    assert rig.store.rows == [] and rig.sent == []
    rig.event(2, customer="c2")
    rig.publisher.forget_all()
    assert rig.publisher.pending == 0
