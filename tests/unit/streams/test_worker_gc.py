"""The worker freezes its heap so full garbage collections stay short (streams.worker)."""

from __future__ import annotations

import gc
import platform

from streams.worker import freeze_heap, limit_malloc_arenas


def tracked(ids: set[int]) -> int:
    """How many of ``ids`` a collection would walk."""
    return len(ids & {id(o) for o in gc.get_objects()})


def test_freeze_heap_moves_every_live_object_out_of_the_collector() -> None:
    kept = [{"weights": [i]} for i in range(1000)]  # long-lived state, like a worker's models
    ids = {id(x) for x in kept}
    assert tracked(ids) == len(kept)
    try:
        frozen = freeze_heap("test")
        assert frozen == gc.get_freeze_count() >= len(kept)
        assert tracked(ids) == 0
        later = [{"weights": [i]} for i in range(10)]  # allocated after: collected as usual
        assert tracked({id(x) for x in later}) == len(later)
    finally:
        gc.unfreeze()
    assert tracked(ids) == len(kept)


def test_malloc_arenas_are_capped_on_glibc_and_left_alone_at_zero() -> None:
    assert limit_malloc_arenas(0) is False  # 0: glibc's default kept
    on_glibc = platform.libc_ver()[0] == "glibc"
    assert limit_malloc_arenas(2) is on_glibc
