"""Erasure in ClickHouse: delete a customer everywhere, audit it, refuse older replays.

Rule: after an erasure request with time ``E`` (its ``occurred_at``), every row of the
customer is deleted from each table holding customer data (``ALTER TABLE ... DELETE``,
synchronous), an audit row is written to ``erasures`` with a SHA-256 of the customer
id (never the id), and any later row of that customer whose event time is at or before
``E`` is refused: a replay of old events does not bring them back. Rows timed after
``E`` are new activity and are kept. Two kinds of rows follow their own rule: a dead
letter of an erased customer is refused whatever its time (a refused record's own time
is often unknown; the DLQ topic keeps it), and a draft of an erased customer is kept
only if the message it answers was admitted (a draft written now for a replayed old
message carries a new time).

The erased set lives in memory, keyed by the hash. It is updated (on the sink's
single writer thread) before the deletes run, so no insert can slip between them, and
reloaded from ``erasures`` every ``refresh_s`` for erasures run by other workers.

>>> erased = ErasedSet(refresh_s=60)
>>> erased.add("c1", 1_000)
>>> rows = [("c1", 900), ("c1", 1_500), ("c2", 900)]
>>> erased.admit(rows, customer=0, time=1), erased.admit(rows, customer=0, time=None)
([1, 2], [2])
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sinks import metrics
from sinks.base import Row
from sinks.clickhouse.rows import Erasure
from sinks.clickhouse.tables import ERASABLE, ERASURES

log = logging.getLogger(__name__)


@lru_cache(maxsize=65_536)
def customer_hash(customer_id: str) -> str:
    """The pseudonymous key of the erasure audit and of the erased set.

    >>> customer_hash("c1")[:12]
    'd0f631ca1ddb'
    """
    return hashlib.sha256(customer_id.encode()).hexdigest()


class ErasedSet:
    """Customer hash -> erasure time (epoch ms), with a periodic reload."""

    def __init__(self, refresh_s: float) -> None:
        self.refresh_s = refresh_s
        self.erased: dict[str, int] = {}
        self.loaded_at = float("-inf")

    def add(self, customer_id: str, at: int) -> None:
        digest = customer_hash(customer_id)
        self.erased[digest] = max(at, self.erased.get(digest, at))

    def admit(self, rows: Sequence[Row], *, customer: int, time: int | None) -> list[int]:
        """Indexes of the rows to keep: not of an erased customer, or newer than its erasure
        (``time=None``: no row of an erased customer is kept)."""
        erased = self.erased
        if not erased:
            return list(range(len(rows)))
        if time is None:
            return [i for i, row in enumerate(rows) if customer_hash(row[customer]) not in erased]
        return [
            i
            for i, row in enumerate(rows)
            if row[time] > erased.get(customer_hash(row[customer]), row[time] - 1)
        ]

    def of_erased(self, rows: Sequence[Row], keep: list[int], customer: int) -> list[int]:
        """Which of ``keep`` belong to an erased customer."""
        return [i for i in keep if customer_hash(rows[i][customer]) in self.erased]

    def refresh(self, client: Any, *, force: bool = False) -> None:
        if not force and time.monotonic() - self.loaded_at < self.refresh_s:
            return
        result = client.query(
            "SELECT customer_hash, max(toUnixTimestamp64Milli(requested_at)) FROM erasures "
            "GROUP BY customer_hash"
        )
        for digest, at in result.result_rows:
            self.erased[digest] = max(int(at), self.erased.get(digest, int(at)))
        self.loaded_at = time.monotonic()


def known_events(client: Any, customers: list[str], event_ids: list[str]) -> set[str]:
    """Which of these events ``interactions`` holds (were admitted)."""
    result = client.query(
        "SELECT DISTINCT event_id FROM interactions "
        "WHERE customer_id IN {c:Array(String)} AND event_id IN {e:Array(String)}",
        parameters={"c": sorted(set(customers)), "e": event_ids},
    )
    return {str(row[0]) for row in result.result_rows}


def erase(client: Any, erased: ErasedSet, request: Erasure) -> dict[str, int]:
    """Run one erasure (idempotent: a redelivered request deletes nothing more, audits once)."""
    erased.add(request.customer_id, request.requested_at)
    params = {"c": request.customer_id}
    deleted: dict[str, int] = {}
    for table in ERASABLE:
        # table names are constants; the customer id is a bound parameter
        query = f"SELECT count() FROM {table} WHERE customer_id = {{c:String}}"  # noqa: S608
        deleted[table] = count = int(client.query(query, parameters=params).result_rows[0][0])
        if count:
            client.command(
                f"ALTER TABLE {table} DELETE WHERE customer_id = {{c:String}}",
                parameters=params,
                settings={"mutations_sync": 2},
            )
    _audit(client, request, deleted)
    metrics.ERASURES.inc()
    done = {t: n for t, n in deleted.items() if n}
    log.info("erasure %s: deleted %s", request.event_id, done or "nothing")
    return deleted


def _audit(client: Any, request: Erasure, deleted: dict[str, int]) -> None:
    seen = client.query(
        "SELECT count() FROM erasures WHERE event_id = {e:String}",
        parameters={"e": request.event_id},
    ).result_rows[0][0]
    if seen:
        return
    now = time.time_ns() // 1_000_000
    row = [
        request.event_id, customer_hash(request.customer_id), request.requested_at, now,
        request.reason, deleted,
    ]  # fmt: skip
    client.insert(
        "erasures",
        [row],
        column_names=ERASURES.names,
        settings={"insert_deduplication_token": f"erasure:{request.event_id}"},
    )
