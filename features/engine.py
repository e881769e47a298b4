"""The feature engine: events in, customer states out, idempotent under redelivery.

It works on two mappings (Faust tables in a worker, dicts in tests), both keyed
by customer id: ``table`` holds the encoded :class:`CustomerState`, ``erasures`` a
marker per erased customer. Every event of a customer is in one partition of the
``events`` topic, in offset order, so:

- **redelivery** (the agent's own, after a crash: events since the last commit
  come again at the same offsets): an event at an offset ``<=`` the state's last
  applied offset is skipped (``replayed``), and the state is written again: the
  local store may hold writes whose changelog records the crash lost, and the
  commit after the skip must not leave the changelog behind;
- **re-forwarded copies** (ingest's own redelivery: the same event id at a new
  offset) are skipped by :class:`RecentIds` (``duplicate``);
- **erasure** (an ``erasure`` event at time ``e``): the customer's state is deleted
  (a changelog tombstone) and a marker ``(e, partition, offset)`` kept; events
  with ``occurred_at <= e`` are then refused (``erased``), later ones start a new
  state. Replayed old events therefore never bring the data back.

>>> from schemas.events import parse_event
>>> def ev(i, t, kind='"type": "page_view", "url": "/"'):
...     return parse_event(f'{{{kind}, "event_id": "e{i}", "customer_id": "c",'
...                        f' "occurred_at": "{t}", "source": "s"}}')
>>> engine = FeatureEngine({}, {}, Rules())
>>> [engine.process(ev(1, "2024-01-01T10:00:00Z"), 0, 5).status,
...  engine.process(ev(1, "2024-01-01T10:00:00Z"), 0, 5).status,
...  engine.process(ev(1, "2024-01-01T10:00:00Z"), 0, 9).status,
...  engine.process(ev(2, "2024-01-01T11:00:00Z", '"type": "erasure"'), 0, 10).status,
...  engine.process(ev(3, "2024-01-01T10:30:00Z"), 0, 11).status]
['applied', 'replayed', 'duplicate', 'erasure', 'erased']
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Final, Literal

from features import metrics
from features.apply import apply
from features.definitions import (
    MESSAGES_UNTRACKED,
    MODEL_OUTPUTS,
    ORDERS_OTHER,
    TICKETS_UNTRACKED,
    Fact,
    Rules,
    digest,
)
from features.recent import RecentIds
from features.state import CustomerState
from features.windows import seconds
from schemas.events import Event

Status = Literal["applied", "late", "replayed", "duplicate", "erased", "erasure"]
CACHE_MAX: Final = 2_000
"""Decoded states kept (``RAPPORT_FEATURES_CACHE_CUSTOMERS``): 2-30 KB each in memory."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one event; ``size`` is the encoded state's bytes when written."""

    status: Status
    customer_id: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class Marker:
    """An erased customer: refused up to ``t`` (epoch s); the erasure's record."""

    t: int
    partition: int
    offset: int

    def encode(self) -> bytes:
        return f"{self.t}:{self.partition}:{self.offset}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> Marker:
        t, partition, offset = raw.decode().split(":")
        return cls(int(t), int(partition), int(offset))

    def covers(self, partition: int, offset: int) -> bool:
        return partition == self.partition and offset <= self.offset


class FeatureEngine:
    """Applies events to the states in ``table``; one instance per worker."""

    def __init__(
        self,
        table: MutableMapping[str, bytes],
        erasures: MutableMapping[str, bytes],
        rules: Rules,
        *,
        dedup_span: int = 20_000,
        cache_max: int = CACHE_MAX,
    ) -> None:
        self.table = table
        self.erasures = erasures
        self.rules = rules
        self.dedup_span = dedup_span
        self.cache_max = cache_max
        self.cache: dict[str, CustomerState] = {}
        self.recent: dict[int, RecentIds] = {}

    # --- partitions
    def seed_recent(self, partition: int, pairs: list[tuple[int, str]]) -> None:
        window = self.recent[partition] = RecentIds(self.dedup_span)
        window.load(pairs)

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked: drop their dedup windows and every cached state."""
        for partition in partitions:
            self.recent.pop(partition, None)
        self.cache.clear()

    # --- reads
    def state(self, customer_id: str, *, keep: bool = True) -> CustomerState | None:
        """The customer's state; ``keep=False`` for readers outside the stream (timers,
        web views): what they read during a rebalance must not outlive it in the cache."""
        state = self.cache.get(customer_id)
        if state is None:
            raw = self.table.get(customer_id)
            if raw is None:
                return None
            state = CustomerState.from_bytes(raw)
            if keep:
                self._cache(customer_id, state)
        return state

    def marker(self, customer_id: str) -> Marker | None:
        raw = self.erasures.get(customer_id)
        return None if raw is None else Marker.decode(raw)

    # --- writes
    def process(self, event: Event, partition: int, offset: int) -> Outcome:
        """Apply one event of the ``events`` topic read at ``partition``/``offset``."""
        cid = event.customer_id
        window = self.recent.get(partition)
        if window is None:
            window = self.recent[partition] = RecentIds(self.dedup_span)
        if window.seen_before(event.event_id, offset):
            return Outcome("duplicate", cid)
        if event.type == "erasure":
            return self._erase(cid, seconds(event.occurred_at), partition, offset)
        fact = digest(event, self.rules.base_currency)
        state = self.state(cid)
        if state is None:
            marker = self.marker(cid)
            if marker is not None and marker.covers(partition, offset):
                self._reassert_erasure(cid, marker)
                return Outcome("replayed", cid)
            state = CustomerState.new(partition, None if marker is None else marker.t)
        elif partition == state.partition and offset <= state.offset:
            self._write(cid, state)  # see _reassert_erasure: the changelog may lack it
            return Outcome("replayed", cid)
        if state.erased_at is not None and fact.t <= state.erased_at:
            return Outcome("erased", cid)
        untracked = state.totals[MESSAGES_UNTRACKED] + state.totals[TICKETS_UNTRACKED]
        timely = apply(state, fact, self.rules)
        _count(state, fact, untracked)
        state.partition, state.offset = partition, offset
        size = self._write(cid, state)
        return Outcome("applied" if timely else "late", cid, size)

    def set_model_outputs(self, customer_id: str, outputs: Mapping[str, float]) -> bool:
        """Fill the model-output slot; call it from an agent whose current event is
        this customer's (a co-partitioned topic), like every table write."""
        unknown = set(outputs) - set(MODEL_OUTPUTS)
        if unknown:
            raise ValueError(f"not a model output: {sorted(unknown)}; known: {MODEL_OUTPUTS}")
        state = self.state(customer_id)
        if state is None:
            return False
        state.models.update({name: float(value) for name, value in outputs.items()})
        self._write(customer_id, state)
        return True

    def _erase(self, cid: str, t: int, partition: int, offset: int) -> Outcome:
        marker = self.marker(cid)
        if marker is not None and marker.covers(partition, offset):
            self._reassert_erasure(cid, marker)
            return Outcome("replayed", cid)
        until = t if marker is None else max(t, marker.t)
        self.erasures[cid] = Marker(until, partition, offset).encode()
        self.cache.pop(cid, None)
        if cid in self.table:
            del self.table[cid]
        return Outcome("erasure", cid)

    def _reassert_erasure(self, cid: str, marker: Marker) -> None:
        """Write the erasure again on a redelivered record it covers.

        A skipped record must not be the only trace of what it did: the local store
        may hold writes whose changelog records a crash lost, and the offset commit
        that follows the skip would make that loss permanent (a later recovery from
        the changelog would bring back an older state, or an erased one). So every
        skip rewrites what it relies on: the state (``process``), or the marker and
        the tombstone here (unless a newer state exists).
        """
        self.erasures[cid] = marker.encode()
        if cid not in self.table:
            self.table[cid] = b""  # a mapping cannot delete what it lacks: set, then delete
            del self.table[cid]

    def _write(self, cid: str, state: CustomerState) -> int:
        raw = state.to_bytes()
        self.table[cid] = raw
        self._cache(cid, state)
        return len(raw)

    def _cache(self, cid: str, state: CustomerState) -> None:
        """Keep the state, most recently written last; past ``cache_max`` the tenth
        written least recently is dropped (read back from the table when needed)."""
        cache = self.cache
        if cache.pop(cid, None) is None and len(cache) >= self.cache_max:
            for old in list(cache)[: self.cache_max // 10 or 1]:
                del cache[old]
        cache[cid] = state


def _count(state: CustomerState, fact: Fact, untracked_before: int) -> None:
    """The metrics of what the currency rule and the caps left out of the features."""
    if fact.kind == "order" and fact.metrics[-1][0] == ORDERS_OTHER:
        metrics.ORDERS_OTHER_CURRENCY.inc()
    elif state.totals[MESSAGES_UNTRACKED] + state.totals[TICKETS_UNTRACKED] > untracked_before:
        metrics.UNTRACKED_BY_KIND[fact.kind].inc()
