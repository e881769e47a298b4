"""Run one Faust worker in this process, after checking what would make it fail opaquely.

**Allocator arenas**: glibc's malloc gives each thread that allocates its own arena, up
to 8 per core, and returns little of them to the system; the worker's threads (RocksDB's,
chDB's, the web server's, aiokafka's) then hold freed memory apart: under the same
10-minute steady stream (``rapport bench soak``), 790 MiB resident at the end with glibc's
default against 741 MiB with 2 arenas. The worker limits
them (``RAPPORT_MALLOC_ARENAS``, 2; ``mallopt(M_ARENA_MAX)``, as ``MALLOC_ARENA_MAX=2``
would) before it starts any thread.

**Garbage collector**: a worker holds millions of long-lived objects (the libraries it
imported, Faust's services, River models), and every full (generation 2) collection of
CPython's cyclic collector walks all of them: measured at 120-160 ms per collection, one
every 10-15 s, each a stall of the event loop that shows up as event-to-insight p99. So
the heap is frozen (``gc.freeze``: moved out of the collector's reach, still freed by
reference counting) once the app is built and again once the worker is ready; full
collections then walk only what was allocated since (measured: ~30 ms).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import socket

import faust

from streams.app import create_app
from streams.core.address import checked_advertised_url
from streams.core.errors import ConfigError
from streams.core.settings import Settings
from streams.core.sink_lease import acquire, holder_of, needs_lease
from streams.stack.control import require_broker
from streams.topics import partition_mismatches

log = logging.getLogger(__name__)


def freeze_heap(when: str) -> int:
    """Collect, then freeze every object alive now (see the module docstring); how many
    objects are frozen in all."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("gc: %d objects frozen (%s)", frozen, when)
    return frozen


class RapportWorker(faust.Worker):
    """Faust's worker, freezing the heap once it is ready (startup objects included)."""

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        freeze_heap("worker ready")


def preflight(settings: Settings) -> None:
    """Refuse to start, with one line naming the setting, on a taken web port (checked
    first: local and instant), an address other workers cannot route to, when no Kafka
    broker answers, or when existing topics have another partition count than
    ``RAPPORT_TOPIC_PARTITIONS``."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.web_host, settings.web_port))
        except OSError as exc:
            msg = (
                f"web port {settings.web_host}:{settings.web_port} is taken ({exc.strerror}): "
                "set RAPPORT_WEB_PORT to a free port"
            )
            raise ConfigError(msg) from exc
    url = checked_advertised_url(settings)
    require_broker(settings)
    wrong = asyncio.run(partition_mismatches(settings))
    if wrong:
        msg = (
            f"RAPPORT_TOPIC_PARTITIONS is {settings.topic_partitions} but "
            f"{', '.join(wrong)} exist: set it to their count (partitions cannot change "
            "under a running deployment; see docs/operations.md, Partitions)"
        )
        raise ConfigError(msg)
    if needs_lease(settings):  # after the broker: a refused start changes nothing
        acquire(settings, holder_of(settings, url))


M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc malloc's arenas (0: leave glibc's default); whether it took effect
    (False off glibc)."""
    if arenas <= 0:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        done = bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
    log.info("malloc: at most %d arenas (%s)", arenas, "set" if done else "refused")
    return done


def run_worker(settings: Settings) -> int:
    limit_malloc_arenas(settings.malloc_arenas)
    preflight(settings)
    runtime = create_app(settings)
    freeze_heap("app built")
    worker = RapportWorker(
        runtime.app,
        loglevel=settings.log_level.upper(),
        blocking_timeout=settings.blocking_timeout_s or None,
    )
    worker.execute_from_commandline()
    return 0
