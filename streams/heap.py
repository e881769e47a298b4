"""Where a worker's Python heap grows: tracemalloc sites, a mark, and the growth since.

Enabled by ``RAPPORT_MEMORY_TRACE`` (the worker starts tracing before it builds the app,
one frame per allocation: ~10-30% slower) and served as ``/debug/heap``; ``rapport bench
soak`` marks the heap at the end of its warm-up and reads the sites that grew since at
the end. Off by default.

>>> tracer = HeapTracer()
>>> tracer.start()
>>> tracer.mark()
>>> grown = [bytearray(10_000) for _ in range(50)]
>>> report = tracer.report(top=3)
>>> report["traced_bytes"] >= 500_000 and report["grown"][0]["size_diff"] >= 500_000
True
>>> tracer.stop()
"""

from __future__ import annotations

import tracemalloc
from typing import Any


class HeapTracer:
    """tracemalloc around a mark: the heap's size and the sites that grew since."""

    def __init__(self, frames: int = 1) -> None:
        self.frames = frames
        self.key = "lineno" if frames == 1 else "traceback"
        self.marked: dict[str, tuple[int, int]] | None = None
        """Size and count per site at the mark: the statistics only, not the snapshot,
        which holds a copy of every trace (over 100 MiB of a worker's RSS, kept to the
        end of a soak, and counted as the worker's)."""

    def start(self) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)

    def stop(self) -> None:
        self.marked = None
        tracemalloc.stop()

    @property
    def tracing(self) -> bool:
        return tracemalloc.is_tracing()

    def mark(self) -> None:
        """Remember the heap as it is now (growth is measured from here)."""
        self.marked = {
            _site(s.traceback): (s.size, s.count) for s in _snapshot().statistics(self.key)
        }

    def report(self, top: int = 15) -> dict[str, Any]:
        """Traced bytes now and at peak, the largest sites, and the sites that grew most
        since :meth:`mark` (empty before one); with more than one frame a site is the
        whole traced stack (callers after ``<-``)."""
        current, peak = tracemalloc.get_traced_memory()
        out: dict[str, Any] = {
            "traced_bytes": current,
            "peak_bytes": peak,
            "tracer_bytes": tracemalloc.get_tracemalloc_memory(),
            "largest": [],
            "grown": [],
        }
        if top <= 0:  # the sizes only: a snapshot copies every trace (tens of MiB)
            return out
        stats = {_site(s.traceback): (s.size, s.count) for s in _snapshot().statistics(self.key)}
        by_size = sorted(stats.items(), key=lambda kv: -kv[1][0])
        largest = [{"site": k, "size": v[0], "count": v[1]} for k, v in by_size[:top]]
        grown: list[dict[str, Any]] = []
        if self.marked is not None:
            before = self.marked
            diffs: list[dict[str, Any]] = [
                {
                    "site": site,
                    "size_diff": size - before.get(site, (0, 0))[0],
                    "count_diff": count - before.get(site, (0, 0))[1],
                    "size": size,
                }
                for site, (size, count) in stats.items()
            ]
            diffs.extend(
                {"site": site, "size_diff": -size, "count_diff": -count, "size": 0}
                for site, (size, count) in before.items()
                if site not in stats
            )
            diffs.sort(key=lambda d: -abs(d["size_diff"]))
            grown = diffs[:top]
        return {**out, "largest": largest, "grown": grown}


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        )
    )


def _site(traceback: tracemalloc.Traceback) -> str:
    return " <- ".join(_frame(frame) for frame in reversed(traceback))


def _frame(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    for marker in ("site-packages/", "/work/", "/lib/python3."):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


ROCKSDB_PROPERTIES = {
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "block_cache": "rocksdb.block-cache-usage",
    "table_readers": "rocksdb.estimate-table-readers-mem",
}


def rocksdb_bytes(tables: dict[str, Any]) -> dict[str, dict[str, int]]:
    """RocksDB's own memory (outside the Python heap) per table, summed over the
    table's partition databases: memtables, block cache, table readers (index, filters).
    Tables not on RocksDB are left out."""
    out: dict[str, dict[str, int]] = {}
    for name, table in tables.items():
        dbs = getattr(getattr(table, "data", None), "_dbs", None)
        if not isinstance(dbs, dict):
            continue
        sizes = dict.fromkeys(ROCKSDB_PROPERTIES, 0)
        for db in dbs.values():
            for field, prop in ROCKSDB_PROPERTIES.items():
                sizes[field] += int(db.property_int_value(prop) or 0)
        out[name] = sizes
    return out
