"""Rewind a consumer group: set its committed offsets to a point in time, the earliest or
the latest offsets, for the topics it reads.

After a bad deploy an operator re-runs a group from a time: its workers are stopped (a
group with active members is refused: they would overwrite the offsets at their next
commit), :func:`plan` computes each partition's new offset (the first record at or after
the time; the end where none is), and :func:`apply` commits them for the group. The
workers read again from there: ClickHouse tables replace rows by their ids, so the
interactions and each message's insights stay exact (``tests/integration/test_rewind.py``).
Churn, segment and anomaly insights are published by a rule (a changed value, or every
N events) whose state a re-read event does not consult: a re-read event publishes its
own, so a re-run adds rows of those models (``agents.scoring.tabular``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from streams.core.errors import ConfigError
from streams.core.kafka_client import client_options
from streams.core.settings import KafkaSettings

Target = datetime | str
"""A time (timezone-aware), ``"earliest"`` or ``"latest"``."""


@dataclass(frozen=True, slots=True)
class Move:
    """One partition's committed offset now (None: none) and after the rewind."""

    topic: str
    partition: int
    committed: int | None
    target: int


def parse_target(text: str) -> Target:
    """``earliest``, ``latest`` or an ISO-8601 time with its offset.

    >>> parse_target("earliest"), parse_target("2026-01-02T03:04:05+00:00").year
    ('earliest', 2026)
    >>> parse_target("2026-01-02")
    Traceback (most recent call last):
    ...
    streams.core.errors.ConfigError: --to 2026-01-02: give a time with its UTC offset, ...
    """
    if text in ("earliest", "latest"):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        msg = (
            f"--to {text}: give a time with its UTC offset, e.g. 2026-01-02T03:04:05+00:00, "
            "or earliest or latest"
        )
        raise ConfigError(msg)
    return moment


async def active_members(settings: KafkaSettings, group: str) -> list[str]:
    """The client ids of the group's members (empty when no worker of it runs)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    described: dict[str, Any] = response.to_object()
    members = [m for g in described["groups"] for m in g["members"]]
    return sorted(str(m["client_id"]) for m in members)


async def layout(
    settings: KafkaSettings, group: str, topics: Sequence[str]
) -> tuple[dict[TopicPartition, int], list[TopicPartition]]:
    """The group's committed offsets, and the partitions to move: of ``topics``, or of
    every topic the group committed on (a changelog excepted: workers read those from
    their start)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
        now = {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
        names = list(topics) or sorted({tp.topic for tp in now if "-changelog" not in tp.topic})
        if not names:
            raise ConfigError(f"group {group} has no committed offsets: name the topics (--topic)")
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    missing = [d["topic"] for d in described if d["error_code"] or not d["partitions"]]
    if missing:
        raise ConfigError(f"no such topic: {', '.join(sorted(missing))}")
    tps = [
        TopicPartition(d["topic"], p["partition"])
        for d in described
        for p in sorted(d["partitions"], key=lambda p: int(p["partition"]))
    ]
    return now, sorted(tps)


async def plan(
    settings: KafkaSettings, group: str, target: Target, topics: Sequence[str] = ()
) -> list[Move]:
    """Each partition's new offset (see :func:`layout` for which partitions)."""
    now, tps = await layout(settings, group, topics)
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        if target == "earliest":
            targets = await consumer.beginning_offsets(tps)
        elif target == "latest":
            targets = ends
        else:
            assert isinstance(target, datetime)
            ms = int(target.timestamp() * 1000)
            found = await consumer.offsets_for_times(dict.fromkeys(tps, ms))
            targets = {tp: ends[tp] if hit is None else hit.offset for tp, hit in found.items()}
    finally:
        await consumer.stop()
    return [Move(tp.topic, tp.partition, now.get(tp), targets[tp]) for tp in tps]


async def apply(settings: KafkaSettings, group: str, moves: Sequence[Move]) -> None:
    """Commit the planned offsets for ``group`` (refused while it has active members)."""
    members = await active_members(settings, group)
    if members:
        msg = (
            f"group {group} has {len(members)} active member(s) ({', '.join(members)}): "
            "stop its workers first"
        )
        raise ConfigError(msg)
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(m.topic, m.partition) for m in moves]
        consumer.assign(tps)
        await consumer.commit(
            {tp: OffsetAndMetadata(m.target, "") for tp, m in zip(tps, moves, strict=True)}
        )
    finally:
        await consumer.stop()
