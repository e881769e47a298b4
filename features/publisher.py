"""Publish changed customers: Redis on every flush, snapshots rate-limited per customer.

The agent marks customers as changed while it processes events; a timer calls
:meth:`Publisher.flush` every ``flush_interval_s``. A flush writes every changed
customer's features to Redis in pipelined chunks, and sends a snapshot to the
compacted ``features`` topic for a customer at most once per ``snapshot_interval_s``
(wall clock): changes inside the interval are coalesced and the latest state is
sent when it ends (so the topic always ends with the final state). An erasure
deletes the Redis hash and sends a tombstone at once.

Nothing here is durable: after a restart or a rebalance the agent marks every
customer of its partitions as changed once recovery completes (a resync).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from features import metrics
from features.definitions import Rules, Vector
from features.state import CustomerState
from features.store import FeatureStore, FeatureStoreError, Row
from features.vector import vector
from schemas.published import FeatureSnapshot

log = logging.getLogger(__name__)

SendSnapshot = Callable[[str, bytes | None], Awaitable[None]]
ReadState = Callable[[str], CustomerState | None]
CHUNK = 200


def snapshot_bytes(customer_id: str, state: CustomerState, features: Vector) -> bytes:
    """The ``features`` topic value: a :class:`FeatureSnapshot` as of the watermark."""
    as_of = datetime.fromtimestamp(state.wm, UTC)
    record = FeatureSnapshot(customer_id=customer_id, as_of=as_of, features=features)
    return record.model_dump_json().encode()


class Publisher:
    """Changed customers, waiting for the next flush."""

    def __init__(
        self,
        store: FeatureStore,
        send: SendSnapshot,
        rules: Rules,
        *,
        snapshot_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.send = send
        self.rules = rules
        self.interval = snapshot_interval_s
        self.clock = clock
        self.dirty: dict[str, None] = {}
        self.deleted: dict[str, int] = {}
        self.snapshot_due: dict[str, None] = {}
        self.last_sent: dict[str, float] = {}

    def changed(self, customer_id: str) -> None:
        self.dirty[customer_id] = None

    def erased(self, customer_id: str, partition: int) -> None:
        self.deleted[customer_id] = partition

    def forget_all(self) -> None:
        """Partitions revoked: the next owner resyncs them after its recovery."""
        self.dirty.clear()
        self.deleted.clear()
        self.snapshot_due.clear()

    @property
    def pending(self) -> int:
        return len(self.dirty) + len(self.deleted) + len(self.snapshot_due)

    async def flush(self, read: ReadState, owned: Callable[[], set[int]]) -> int:
        """Publish what changed; returns the number of Redis hashes written.

        ``read`` gives a customer's state (None during a rebalance) and ``owned`` the
        partitions this worker owns now: both are asked again for every chunk.
        """
        started = time.perf_counter()
        await self._deletes(owned())
        dirty = list(self.dirty)
        self.dirty.clear()
        written = 0
        for start in range(0, len(dirty), CHUNK):
            written += await self._chunk(dirty[start : start + CHUNK], read, owned())
            await asyncio.sleep(0)
        await self._due_snapshots(read, owned())
        metrics.PENDING.set(self.pending)
        metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)
        return written

    async def _deletes(self, actives: set[int]) -> None:
        if not self.deleted:
            return
        gone = {cid: p for cid, p in self.deleted.items() if p in actives}
        self.deleted.clear()
        try:
            await self.store.write([], list(gone))
        except FeatureStoreError as exc:
            metrics.STORE_ERRORS.inc()
            log.warning("erasure of %d feature hashes failed, retrying: %s", len(gone), exc)
            self.deleted.update(gone)
            return
        metrics.STORE_WRITES.labels("delete").inc(len(gone))
        for cid, partition in gone.items():
            self.snapshot_due.pop(cid, None)
            if not await self._send(cid, None):
                self.deleted[cid] = partition

    async def _chunk(self, customers: list[str], read: ReadState, actives: set[int]) -> int:
        now = self.clock()
        rows, snapshots = [], []
        for cid in customers:
            state = read(cid)
            if state is None or state.partition not in actives:
                continue
            features = vector(state, self.rules)
            rows.append(Row(cid, features, state.partition, state.offset))
            if now - self.last_sent.get(cid, -self.interval) >= self.interval:
                snapshots.append((cid, snapshot_bytes(cid, state, features)))
            else:
                self.snapshot_due[cid] = None
        try:
            await self.store.write(rows)
        except FeatureStoreError as exc:
            metrics.STORE_ERRORS.inc()
            log.warning("feature flush of %d customers failed, retrying: %s", len(rows), exc)
            self.dirty.update(dict.fromkeys(customers))
            return 0
        metrics.STORE_WRITES.labels("write").inc(len(rows))
        for cid, value in snapshots:
            if not await self._send(cid, value):
                self.snapshot_due[cid] = None
        return len(rows)

    async def _due_snapshots(self, read: ReadState, actives: set[int]) -> None:
        now = self.clock()
        for cid in list(self.snapshot_due):
            if now - self.last_sent.get(cid, -self.interval) < self.interval:
                continue
            del self.snapshot_due[cid]
            state = read(cid)
            if state is not None and state.partition in actives:
                value = snapshot_bytes(cid, state, vector(state, self.rules))
                if not await self._send(cid, value):
                    self.snapshot_due[cid] = None
        horizon = now - self.interval
        for cid in [c for c, at in self.last_sent.items() if at <= horizon]:
            del self.last_sent[cid]

    async def _send(self, customer_id: str, value: bytes | None) -> bool:
        try:
            await self.send(customer_id, value)
        except Exception as exc:
            metrics.SNAPSHOT_ERRORS.inc()
            log.warning("snapshot of %s not sent, retrying: %s", customer_id, exc)
            return False
        self.last_sent[customer_id] = self.clock()
        metrics.SNAPSHOTS.labels("snapshot" if value is not None else "tombstone").inc()
        return True
