"""The ``peers`` agent (benchmarks only): ``rapport bench peers``' feature workload on
Rapport's hot path, to compare the engine with Quix Streams on identical work.

Records of ``interactions`` are taken in batches (:mod:`streams.core.batches`, dispatched
without per-record tasks), each applied by :func:`features.peer_workload.update` to its
customer's state and answered with one record on ``peer-features``; each customer's state
is read from the table once per batch and written back once, under its last event (its
changelog partition). A record that is not a JSON object with the fields the workload
reads is counted and skipped (this agent is a bench, not the ingest path).
"""

from __future__ import annotations

import logging
from typing import Any

import faust
import orjson

from features.peer_workload import update
from streams.core import metrics
from streams.core.batches import batches, use
from streams.core.runtime import Runtime

log = logging.getLogger(__name__)
AGENT = "peers"
TABLE = "peer-state"


class PeerFeatures:
    """The workload over a table of orjson states, one write per dirty customer per batch."""

    def __init__(self, runtime: Runtime, table: Any) -> None:
        self.table = table
        self.producer = runtime.app.producer
        self.out_name = f"{runtime.settings.topic_prefix}peer-features"
        self._in = metrics.EVENTS_IN.labels(AGENT)
        self._errors = metrics.AGENT_ERRORS.labels(AGENT)

    async def handle(self, events: list[faust.EventT[Any]]) -> None:
        dirty: dict[str, tuple[dict[str, Any], faust.EventT[Any]]] = {}
        for event in events:
            try:
                record = orjson.loads(event.message.value or b"")
                customer = record["customer_id"]
                found = dirty.get(customer)
                if found is None:
                    use(event)  # Faust reads the current event's partition only
                    raw = self.table.get(customer)
                    state = orjson.loads(raw) if raw else None
                else:
                    state = found[0]
                state, out = update(state, record)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                self._errors.inc()
                log.warning("peers: record skipped (%s: %s)", type(exc).__name__, exc)
                continue
            dirty[customer] = (state, event)
            await self.producer.send(
                self.out_name, customer.encode(), orjson.dumps(out), None, None, None
            )
        for customer, (state, event) in dirty.items():
            use(event)  # the changelog record goes to this event's partition
            self.table[customer] = orjson.dumps(state)
        self._in.inc(len(events))


def register(runtime: Runtime) -> PeerFeatures:
    settings = runtime.settings
    agent = PeerFeatures(runtime, runtime.table(TABLE))

    async def peers_agent(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.batch_max_events, settings.batch_linger_s):
            await agent.handle(batch)

    runtime.app.agent(runtime.topics["interactions"], name=AGENT)(peers_agent)
    return agent
