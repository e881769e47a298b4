"""Every topic Rapport reads or writes: name, key, value schema, partitions, retention.

>>> from streams.core.settings import Settings
>>> [t.role for t in topic_specs(Settings(_env_file=None))][:3]
['interactions', 'events', 'dlq']
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel

from schemas.events import Envelope
from schemas.published import DeadLetter, DraftedReply, FeatureSnapshot, Insight, ReplyRequest
from streams.core.kafka_client import client_options
from streams.core.runtime import MAX_RECORD_BYTES
from streams.core.settings import Settings, TopicRole

DAY_MS = 86_400_000

READERS: Final[dict[TopicRole, frozenset[str]]] = {
    "interactions": frozenset({"ingest"}),
    "events": frozenset({"features", "sink", "reply_requests"}),
    "dlq": frozenset({"sink"}),
    "features": frozenset({"sink"}),
    "insights": frozenset({"sink", "reply_requests"}),  # reply_requests: its engagement agent
    "reply_requests": frozenset({"drafting"}),
    "drafted_replies": frozenset({"sink"}),
}
"""The agents (``RAPPORT_AGENTS`` names) that read each topic, as ``agents/*.register`` wires
them: the worker's consumer group commits offsets on exactly these topics."""
TABLES: Final = (
    "dedup-ids",
    "features",
    "features-erasures",
    "churn-holds",
    "reply-conversations",
    "reply-customers",
    "peer-state",
)
"""The Faust tables the agents keep (each with a changelog ``{app id}-{table}-changelog``,
co-partitioned with its source topic)."""


@dataclass(frozen=True)
class TopicSpec:
    role: TopicRole
    name: str
    key: str
    value: type[BaseModel]
    partitions: int
    retention_ms: int
    compacted: bool
    description: str


def topic_specs(settings: Settings) -> list[TopicSpec]:
    p = settings.topic_partitions

    def spec(
        role: TopicRole, key: str, value: type[BaseModel], days: int, *, compacted: bool, doc: str
    ) -> TopicSpec:
        retention = -1 if compacted else days * DAY_MS
        return TopicSpec(role, settings.topic_name(role), key, value, p, retention, compacted, doc)

    return [
        spec(
            "interactions",
            "customer_id (may be null: ingest re-keys)",
            Envelope,
            7,
            compacted=False,
            doc="Raw customer interactions from producers (JSON, the event contract).",
        ),
        spec(
            "events",
            "customer_id",
            Envelope,
            7,
            compacted=False,
            doc="Validated, de-duplicated events keyed by customer_id: the processing path. "
            "Records keyed #example are the scoring stage's shared labelled text examples "
            "(no events: skip them).",
        ),
        spec(
            "dlq",
            "the original key, or null",
            DeadLetter,
            30,
            compacted=False,
            doc="Dead letters: original bytes, a specific reason, source topic/partition/offset.",
        ),
        spec(
            "features",
            "customer_id",
            FeatureSnapshot,
            0,
            compacted=True,
            doc="Latest feature snapshot per customer (compacted).",
        ),
        spec(
            "insights",
            "customer_id",
            Insight,
            30,
            compacted=False,
            doc="Model outputs: predictions with confidence and explanation.",
        ),
        spec(
            "reply_requests",
            "customer_id",
            ReplyRequest,
            7,
            compacted=False,
            doc="Inbound messages that need a reply, for the drafting agent.",
        ),
        spec(
            "drafted_replies",
            "customer_id",
            DraftedReply,
            30,
            compacted=False,
            doc="Drafted replies for human review (never sent automatically).",
        ),
    ]


def consumed_roles(settings: Settings) -> list[TopicRole]:
    """The topics a worker with these settings reads, in :func:`topic_specs` order: those of
    its agents (``RAPPORT_AGENTS``), the drafting agent only when drafting is enabled.

    >>> from streams.core.settings import Settings
    >>> consumed_roles(Settings(_env_file=None))
    ['interactions', 'events', 'dlq', 'features', 'insights', 'reply_requests', 'drafted_replies']
    >>> consumed_roles(Settings(_env_file=None, drafting_enabled=False))
    ['interactions', 'events', 'dlq', 'features', 'insights', 'drafted_replies']
    >>> consumed_roles(Settings(_env_file=None, agents="ingest,features"))
    ['interactions', 'events']
    >>> consumed_roles(Settings(_env_file=None, agents="processing"))  # beside `rapport sink`
    ['interactions', 'events', 'insights', 'reply_requests']
    >>> consumed_roles(Settings(_env_file=None, agents="sink"))
    ['events', 'dlq', 'features', 'insights', 'drafted_replies']
    """
    agents = set(settings.agent_names)
    if not settings.drafting_enabled:
        agents.discard("drafting")
    return [spec.role for spec in topic_specs(settings) if READERS[spec.role] & agents]


async def partition_mismatches(settings: Settings) -> list[str]:
    """Each existing topic, or table changelog of the app (``{app id}-{table}-changelog``),
    whose partition count is not ``RAPPORT_TOPIC_PARTITIONS``, as ``name (N partitions)``.
    Faust co-partitions every table with its source topic, so a worker on such a topic
    fails each event (``PartitionsMismatch``) instead of starting."""
    wanted = {spec.name: spec.partitions for spec in topic_specs(settings)}
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        names = await admin.list_topics()
        for table in TABLES:
            wanted[f"{settings.app_id}-{table}-changelog"] = settings.topic_partitions
        existing = [name for name in names if name in wanted]
        found = await admin.describe_topics(existing) if existing else []
    finally:
        await admin.close()
    out = []
    for topic in found:
        name, count = str(topic["topic"]), len(topic["partitions"])
        if topic.get("error_code", 0) == 0 and count != wanted[name]:
            out.append(f"{name} ({count} partitions)")
    return sorted(out)


async def create_topics(settings: Settings, roles: Collection[TopicRole] | None = None) -> None:
    """Create the topics (of ``roles``, default all) before the worker subscribes: a topic
    the worker creates itself can be missing from its first assignment (stale metadata),
    and is then never consumed."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                spec.name,
                spec.partitions,
                settings.topic_replication,
                topic_configs={"max.message.bytes": str(MAX_RECORD_BYTES)}
                | ({"cleanup.policy": "compact"} if spec.compacted else {})
                | ({} if spec.compacted else {"retention.ms": str(spec.retention_ms)}),
            )
            for spec in topic_specs(settings)
            if spec.name not in existing and (roles is None or spec.role in roles)
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()
