"""Duplicate-event detection with bounded memory, per partition of ``interactions``.

Each event id is kept as a 64-bit hash (blake2b) beside the offset it was first seen at:
16 bytes. A record seen again at the *same* offset is a redelivery after a crash, not a
duplicate, and is forwarded again (downstream stores are idempotent by event id).

Per partition the ids live in an *open* chunk (a dict, the newest ids) and in *sealed*
chunks (sorted numpy arrays, searched for a whole batch at once). A batch's new ids are
written to the ``dedup`` table as one record (its changelog goes to the partition's own
changelog partition); when the open chunk reaches ``seal_ids`` ids or a sixteenth of the
horizon in age it is written as one sealed record and its batch records are deleted, so
the table holds at most ``max_ids / seal_ids`` + 16 sealed records and ``seal_ids`` ids
of batch records per partition. Sealed chunks are dropped once their newest id is older
than the horizon, and the oldest are dropped while a partition holds more than
``max_ids`` ids: the horizon is ``horizon_s``, or less when more than ``max_ids`` events
of one partition arrive within it (``rapport_dedup_horizon_seconds`` shows the span
kept). Two distinct ids share a hash with probability ~n / 2**64 per lookup.

>>> ids = PartitionIds(0, Limits(horizon_s=60, max_ids=100, seal_ids=2))
>>> [ids.first_time(hash_id(e), o) for e, o in (("a", 1), ("b", 2), ("a", 3), ("a", 1))]
[True, True, False, True]
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

HEADER = struct.Struct("<dI")  # newest wall-clock second, number of ids
Hashes = npt.NDArray[np.uint64]
Offsets = npt.NDArray[np.int64]


def hash_id(event_id: str) -> int:
    """The 64-bit hash an event id is kept as."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Limits:
    horizon_s: float
    max_ids: int
    seal_ids: int = 16_384


@dataclass
class Chunk:
    """Sorted ids of one or more sealed records (``keys``); ``newest`` decides expiry."""

    keys: list[str]
    newest: float
    hashes: Hashes
    offsets: Offsets

    def lookup(self, wanted: Hashes) -> tuple[npt.NDArray[np.bool_], Offsets]:
        """For each wanted hash: whether this chunk holds it, and at which offset."""
        at = np.searchsorted(self.hashes, wanted)
        at[at == len(self.hashes)] = 0
        found = self.hashes[at] == wanted
        return found, self.offsets[at]


def encode(newest: float, hashes: Hashes, offsets: Offsets) -> bytes:
    return HEADER.pack(newest, len(hashes)) + hashes.tobytes() + offsets.tobytes()


def decode(raw: bytes) -> tuple[float, Hashes, Offsets]:
    newest, n = HEADER.unpack_from(raw)
    start = HEADER.size
    hashes = np.frombuffer(raw, dtype=np.uint64, count=n, offset=start)
    offsets = np.frombuffer(raw, dtype=np.int64, count=n, offset=start + 8 * n)
    return newest, hashes, offsets


def _sorted(hashes: Hashes, offsets: Offsets) -> tuple[Hashes, Offsets]:
    order = np.argsort(hashes, kind="stable")
    return hashes[order], offsets[order]


@dataclass
class PartitionIds:
    """The ids of one partition: the open chunk, the sealed chunks, the pending writes."""

    partition: int
    limits: Limits
    open: dict[int, int] = field(default_factory=dict)
    open_keys: list[str] = field(default_factory=list)
    open_since: float | None = None
    sealed: deque[Chunk] = field(default_factory=deque)
    batch: dict[int, int] = field(default_factory=dict)
    """Ids first seen in the current batch (also in ``open``), written at its end."""
    batch_first: int | None = None

    @property
    def size(self) -> int:
        return len(self.open) + sum(len(c.hashes) for c in self.sealed)

    def sealed_offsets(self, wanted: Hashes) -> Offsets:
        """The first-seen offset of each wanted hash in the sealed chunks, -1 if none."""
        out = np.full(len(wanted), -1, dtype=np.int64)
        for chunk in self.sealed:
            found, offsets = chunk.lookup(wanted)
            out[found] = offsets[found]
        return out

    def first_time(self, digest: int, offset: int, sealed_offset: int = -1) -> bool:
        """Record an id; False for a duplicate (seen before at another offset)."""
        known = self.open.get(digest, sealed_offset)
        if known >= 0:
            return known == offset
        self.open[digest] = offset
        self.batch[digest] = offset
        if self.batch_first is None:
            self.batch_first = offset
        return True

    def end_batch(self, now: float) -> list[tuple[str, bytes | None]]:
        """The table writes of the batch: its ids; a seal; expired records deleted."""
        writes: list[tuple[str, bytes | None]] = []
        if self.batch:
            key = f"{self.partition}:o{self.batch_first:020d}"
            hashes = np.fromiter(self.batch.keys(), dtype=np.uint64, count=len(self.batch))
            offsets = np.fromiter(self.batch.values(), dtype=np.int64, count=len(self.batch))
            writes.append((key, encode(now, hashes, offsets)))
            self.open_keys.append(key)
            if self.open_since is None:
                self.open_since = now
            self.batch, self.batch_first = {}, None
        age = now - self.open_since if self.open_since is not None else 0.0
        if len(self.open) >= self.limits.seal_ids or age >= self.limits.horizon_s / 16:
            writes.extend(self.seal(now))
        writes.extend(self.expire(now))
        return writes

    def seal(self, now: float) -> list[tuple[str, bytes | None]]:
        """The open chunk as one sealed record; its batch records deleted."""
        if not self.open:
            return []
        hashes, offsets = _sorted(
            np.fromiter(self.open.keys(), dtype=np.uint64, count=len(self.open)),
            np.fromiter(self.open.values(), dtype=np.int64, count=len(self.open)),
        )
        key = f"{self.partition}:s{int(offsets.min()):020d}"
        writes: list[tuple[str, bytes | None]] = [(key, encode(now, hashes, offsets))]
        writes.extend((old, None) for old in self.open_keys)
        self.add_sealed(Chunk([key], now, hashes, offsets))
        self.open, self.open_keys, self.open_since = {}, [], None
        return writes

    def add_sealed(self, chunk: Chunk) -> None:
        """Keep a sealed chunk; merged with the newest while both fit in a quarter of
        ``max_ids`` (fewer arrays to search; expiry then drops them together)."""
        last = self.sealed[-1] if self.sealed else None
        if last is not None and len(last.hashes) + len(chunk.hashes) <= self.limits.max_ids // 4:
            hashes, offsets = _sorted(
                np.concatenate([last.hashes, chunk.hashes]),
                np.concatenate([last.offsets, chunk.offsets]),
            )
            self.sealed[-1] = Chunk(last.keys + chunk.keys, chunk.newest, hashes, offsets)
        else:
            self.sealed.append(chunk)

    def expire(self, now: float) -> list[tuple[str, bytes | None]]:
        """Delete sealed chunks past the horizon, and the oldest beyond ``max_ids``."""
        writes: list[tuple[str, bytes | None]] = []
        cutoff = now - self.limits.horizon_s
        while self.sealed and (self.sealed[0].newest < cutoff or self.size > self.limits.max_ids):
            writes.extend((key, None) for key in self.sealed.popleft().keys)
        return writes

    def oldest(self) -> float | None:
        """Wall-clock second of the oldest chunk kept (its newest id)."""
        if self.sealed:
            return self.sealed[0].newest
        return self.open_since

    def restore(self, records: list[tuple[str, bytes]]) -> list[str]:
        """Rebuild from the partition's table records (after a start or an assignment);
        returns why records that do not decode were skipped (their ids are forgotten)."""
        decoded, errors = [], []
        for key, raw in records:
            try:
                decoded.append((key, *decode(raw)))
            except (struct.error, ValueError) as exc:
                errors.append(f"dedup record {key!r} of {len(raw)} bytes skipped: {exc}")
        for key, newest, hashes, offsets in sorted(decoded, key=lambda r: r[1]):
            if ":s" in key:  # written sorted
                self.add_sealed(Chunk([key], newest, hashes, offsets))
            else:
                self.open.update(zip(hashes.tolist(), offsets.tolist(), strict=True))
                self.open_keys.append(key)
                self.open_since = newest if self.open_since is None else self.open_since
        return errors
