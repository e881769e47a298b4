"""Helpers of the feature tests: replay event lists, a changelog-recording table, comparison."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import orjson

from features.definitions import FLOAT_FEATURES, MODEL_OUTPUTS, Vector
from schemas.events import Event, parse_event
from streams.replay import DEFAULT_START, merge, synthetic, telco
from streams.replay.datasets import bitext


def replay_events(n: int, *, seed: int = 3, customers: int = 150) -> list[Event]:
    """Synthetic (out-of-order and late) merged with real Bitext and Telco records."""
    syn = synthetic(
        seed=seed, limit=n, n_customers=customers, disorder=0.08, late=0.04, sessions_per_hour=40.0
    )
    real = merge(bitext(seed=seed, limit=n // 5), telco(seed=seed, limit=n // 10))
    return [parse_event(orjson.dumps(r.event)) for r in merge(syn, real)]


def with_erasures(events: list[Event], customers: list[str]) -> list[Event]:
    """Add an erasure of each customer after its first half of events, then a replay of
    its old events under new ids (all older than the erasure: to be refused)."""
    out = list(events)
    for k, customer in enumerate(customers):
        mine = [i for i, e in enumerate(out) if e.customer_id == customer]
        cut = mine[len(mine) // 2]
        latest = max(out[i].occurred_at for i in mine[: len(mine) // 2 + 1])
        erasure = make_event(
            {
                "type": "erasure",
                "event_id": f"erase-{k}",
                "customer_id": customer,
                "occurred_at": (latest + timedelta(seconds=1)).isoformat(),
                "source": "test",
            }
        )
        out.insert(cut + 1, erasure)
        replayed = [
            e.model_copy(update={"event_id": f"again-{e.event_id}"})
            for e in (out[i] for i in mine[: len(mine) // 2 + 1])
        ]
        out.extend(replayed)
    return out


def make_event(fields: dict[str, Any]) -> Event:
    return parse_event(orjson.dumps(fields))


def at(seconds: float) -> str:
    return (DEFAULT_START + timedelta(seconds=seconds)).isoformat()


def partition_of(customer_id: str, partitions: int) -> int:
    return zlib.crc32(customer_id.encode()) % partitions


class LoggedTable(MutableMapping[str, bytes]):
    """A dict whose writes also go to a per-partition changelog (None = tombstone)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.changelog: dict[int, list[tuple[str, bytes | None]]] = {}
        self.partition = 0

    def __getitem__(self, key: str) -> bytes:
        return self.data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        self.data[key] = value
        self.changelog.setdefault(self.partition, []).append((key, value))

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.changelog.setdefault(self.partition, []).append((key, None))

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def recover(self, durable: dict[int, int], *, keep_local: bool = False) -> None:
        """Keep only the first ``durable[p]`` changelog records of each partition. The
        data is rebuilt from them (another worker recovers the partition), or, with
        ``keep_local``, kept as it is: a restart on the same RocksDB store keeps local
        writes whose changelog records were lost."""
        for partition, log in self.changelog.items():
            del log[durable.get(partition, len(log)) :]
        if not keep_local:
            self.data = self.from_changelog()

    def from_changelog(self) -> dict[str, bytes]:
        """What a recovery from the changelog alone gives."""
        data: dict[str, bytes] = {}
        for log in self.changelog.values():
            for key, value in log:
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
        return data


def diff(streamed: dict[str, Vector], batch: dict[str, Vector], rel: float = 1e-9) -> list[str]:
    """Every difference: counts, sums and strings exact; ratios within ``rel``.

    The model-output slot is not recomputed from events: the models fill it (checked by
    the scoring tests and the features replay test)."""
    problems = [f"{c}: only in the stream" for c in streamed.keys() - batch.keys()]
    problems += [f"{c}: only in the batch" for c in batch.keys() - streamed.keys()]
    for customer in sorted(streamed.keys() & batch.keys()):
        s, b = streamed[customer], batch[customer]
        for name in sorted((s.keys() | b.keys()) - set(MODEL_OUTPUTS)):
            x, y = s.get(name, "<missing>"), b.get(name, "<missing>")
            if name in FLOAT_FEATURES and isinstance(x, float) and isinstance(y, float):
                if math.isclose(x, y, rel_tol=rel, abs_tol=1e-9):
                    continue
            elif x == y and type(x) is type(y):
                continue
            problems.append(f"{customer}.{name}: stream {x!r} != batch {y!r}")
    return problems


def first(items: Iterator[str], n: int = 20) -> list[str]:
    return list(islice(items, n))


def now() -> datetime:
    return datetime.now(UTC)
