"""Valid events for integration tests: unique ids, recent event times, key = customer_id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson


def message_event(i: int, run: str, customers: int = 50) -> tuple[bytes, bytes]:
    customer = f"c{i % customers}"
    event = {
        "type": "message",
        "event_id": f"{run}-{i}",
        "customer_id": customer,
        "occurred_at": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        "source": "test",
        "channel": "chat",
        "direction": "inbound",
        "conversation_id": f"conv-{customer}",
        "text": f"hello number {i}",
    }
    return customer.encode(), orjson.dumps(event)


def batch(run: str, start: int, stop: int) -> list[tuple[bytes, bytes]]:
    return [message_event(i, run) for i in range(start, stop)]


def ids_of(values: list[bytes | None]) -> list[str]:
    out = []
    for value in values:
        assert value is not None
        out.append(str(orjson.loads(value)["event_id"]))
    return out
