"""How the worker's consumer batches its fetches: a minimum size and a longest wait.

Faust creates its aiokafka consumer with ``fetch_min_bytes=1``: the broker answers a
fetch as soon as one byte is there. At a steady low rate (100 events/s) nearly every
fetch then comes back with one or two records, and the next one leaves at once: the
worker spent most of its CPU building fetch requests for all its partitions, writing
them to the socket and decoding the answers (0.6-0.9 CPU s per second of stream, 6-9 ms
per event, against 0.8 ms per event at full speed). With ``RAPPORT_CONSUMER_FETCH_MIN_BYTES``
the broker holds a fetch until that much data is there or
``RAPPORT_CONSUMER_FETCH_MAX_WAIT_MS`` passed: a record waits at most that long more,
and at full speed fetches fill at once, so nothing changes there.
"""

from __future__ import annotations

from typing import Any


def tune_fetches(consumer: Any, min_bytes: int, max_wait_ms: int) -> None:
    """Make the aiokafka consumer Faust's consumer thread creates fetch with these."""
    thread = consumer._thread
    create = thread._create_worker_consumer

    def created(transport: Any) -> Any:
        kafka = create(transport)
        kafka._fetch_min_bytes = min_bytes  # read when the consumer starts its fetcher
        kafka._fetch_max_wait_ms = max_wait_ms
        return kafka

    thread._create_worker_consumer = created
