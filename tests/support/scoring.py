"""Helpers of the scoring tests: events, a feature engine with a scorer, a replay runner."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.scoring.scorer import EngineFeatures, Scorer
from agents.scoring.state import ModelConfig
from agents.scoring.store import Stored
from features.definitions import Rules
from features.engine import FeatureEngine
from schemas.events import Event
from schemas.examples import Example
from schemas.published import Insight
from tests.support.features import at, make_event

SCORED = ("applied", "late", "replayed", "erasure")
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Pipeline:
    """The feature engine and the scorer of one worker, without Kafka."""

    config: ModelConfig = field(default_factory=ModelConfig)
    rules: Rules = field(default_factory=Rules)
    offsets: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.engine = FeatureEngine({}, {}, self.rules)
        self.scorer = Scorer(self.config, EngineFeatures(self.engine, self.rules), lambda: NOW)

    def feed(
        self, event: Event | Example, partition: int = 0, offset: int | None = None
    ) -> list[Insight]:
        """Apply one event like the feature agent, then score it like its hook does (a
        shared example goes to the scorer only)."""
        if offset is None:
            offset = self.offsets.get(partition, -1) + 1
        self.offsets[partition] = max(offset, self.offsets.get(partition, -1))
        if isinstance(event, Example):
            self.scorer.learn_example(event, partition, offset)
            return []
        outcome = self.engine.process(event, partition, offset)
        if outcome.status not in SCORED:
            return []
        return self.scorer.score(event, partition, offset)

    def run(self, events: Iterable[Event], partition: int = 0) -> list[Insight]:
        out: list[Insight] = []
        for event in events:
            out += self.feed(event, partition)
        return out


def score_partitions(
    records: Iterable[tuple[int, int, Event | Example]],
    config: ModelConfig,
    rules: Rules,
    fresh_at: Iterable[tuple[int, int]] = (),
) -> list[Insight]:
    """Every insight of ``(partition, offset, event)`` records, in partition order;
    a partition's models restart fresh at each ``(partition, offset)`` of ``fresh_at``
    (a refused checkpoint), its features do not."""
    pipeline = Pipeline(config, rules)
    resets = set(fresh_at)
    out: list[Insight] = []
    for partition, offset, event in sorted(records, key=lambda r: (r[0], r[1])):
        if (partition, offset) in resets:
            pipeline.scorer.adopt(pipeline.scorer.fresh(partition))
        out += pipeline.feed(event, partition, offset)
    return out


def message(i: int, text: str, customer: str = "c1", t: float = 0.0, **extra: Any) -> Event:
    return make_event(
        {
            "type": "message",
            "event_id": f"m{i}",
            "customer_id": customer,
            "occurred_at": at(t or i),
            "source": "test",
            "channel": extra.pop("channel", "chat"),
            "direction": extra.pop("direction", "inbound"),
            "conversation_id": f"conv-{customer}",
            "text": text,
            **extra,
        }
    )


def label(i: int, value: str, customer: str = "c1", kind: str = "intent", t: float = 0.0) -> Event:
    return make_event(
        {
            "type": "label",
            "event_id": f"l{i}",
            "customer_id": customer,
            "occurred_at": at(t or i + 0.5),
            "source": "test",
            "message_event_id": f"m{i}",
            "kind": kind,
            "value": value,
        }
    )


def event(kind: str, event_id: str, customer: str, t: float, **fields: Any) -> Event:
    base = {"event_id": event_id, "customer_id": customer, "occurred_at": at(t), "source": "test"}
    return make_event({"type": kind, **base, **fields})


class MemoryStore:
    """A ``SnapshotStore`` in memory, with the Redis store's sequence guard."""

    def __init__(self) -> None:
        self.items: dict[int, Stored] = {}
        self.writes = 0

    async def load(self, partition: int) -> Stored | None:
        return self.items.get(partition)

    async def save(self, partition: int, blob: bytes, sequence: int) -> bool:
        found = self.items.get(partition)
        if found is not None and sequence <= found.sequence:
            return False
        self.items[partition] = Stored(blob, sequence)
        self.writes += 1
        return True
