"""The per-customer feature workload ``rapport bench peers`` runs in every engine.

The same function runs in Quix Streams (a stateful ``apply``) and in Rapport (a batched
agent over a changelogged table), so the engines are compared on identical work and
their outputs can be checked against each other: per event, the customer's counts per
event type over the last hour (5-minute slots) and the last 24 hours (hourly slots), in
event time; the sum and count of orders; the last time seen; one output per event.

Standard library only: the Quix Streams side imports it from a virtualenv that has none
of Rapport's dependencies.

>>> state, out = update(None, {"type": "order", "customer_id": "c1", "event_id": "e1",
...     "occurred_at": "2026-01-01T10:00:00+00:00", "amount": 5.5})
>>> state, out = update(state, {"type": "order", "customer_id": "c1", "event_id": "e2",
...     "occurred_at": "2026-01-01T11:30:00+00:00", "amount": 2})
>>> out["count_1h"], out["count_24h"], out["order_sum"], out["orders"]
({'order': 1}, {'order': 2}, 7.5, 2)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SLOT_1H_S = 300
SLOTS_1H = 12
SLOT_24H_S = 3_600
SLOTS_24H = 24


def _bump(slots: list[list[int]], slot: int, keep_after: int) -> int:
    """Count one event in ``slot`` (slots ascending); drop slots at or before
    ``keep_after``; the total kept."""
    while slots and slots[0][0] <= keep_after:
        slots.pop(0)
    if slot > keep_after:
        if slots and slots[-1][0] == slot:
            slots[-1][1] += 1
        else:
            slots.append([slot, 1])
            slots.sort()
    return sum(n for _, n in slots)


def _window(
    counts: dict[str, list[list[int]]], kind: str, slot: int, newest_slot: int, width: int
) -> dict[str, int]:
    keep_after = newest_slot - width
    out = {}
    for name, slots in counts.items():
        if name == kind:
            out[name] = _bump(slots, slot, keep_after)
        else:
            while slots and slots[0][0] <= keep_after:
                slots.pop(0)
            out[name] = sum(n for _, n in slots)
    if kind not in counts:
        counts[kind] = []
        out[kind] = _bump(counts[kind], slot, keep_after)
    return {name: n for name, n in out.items() if n}


def update(state: dict[str, Any] | None, event: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Apply one event to a customer's state (JSON-shaped); the new state and the output."""
    if state is None:
        state = {"last": 0.0, "order_sum": 0.0, "orders": 0, "h": {}, "d": {}}
    at = datetime.fromisoformat(event["occurred_at"]).timestamp()
    last = max(state["last"], at)
    state["last"] = last
    kind = event["type"]
    if kind == "order":
        state["order_sum"] += float(event.get("amount") or 0.0)
        state["orders"] += 1
    hour = _window(state["h"], kind, int(at // SLOT_1H_S), int(last // SLOT_1H_S), SLOTS_1H)
    day = _window(state["d"], kind, int(at // SLOT_24H_S), int(last // SLOT_24H_S), SLOTS_24H)
    out = {
        "customer_id": event["customer_id"],
        "event_id": event["event_id"],
        "type": kind,
        "count_1h": hour,
        "count_24h": day,
        "order_sum": round(state["order_sum"], 6),
        "orders": state["orders"],
        "last_seen": last,
    }
    return state, out
