"""What the console shows, gathered from where the engine keeps it: drafts and verdicts
in Redis, features from the owning table (or its Redis copy), scores and the timeline
from ClickHouse (when this worker runs the sink), lag and the breaker from the metrics.

A verdict becomes a ``draft_feedback`` event on ``interactions``, checked by the same
validation as any event; its id is derived from the draft, the verdict and the final text,
so a repeated click is the same event (dropped by ingest's dedup).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from prometheus_client import Gauge

from agents.drafting.metrics import BREAKER_OPEN, DRAFT_MODE
from agents.drafting.store import DraftStore, DraftStoreError
from schemas.validate import Accepted, Limits, check
from streams.core.metrics import CONSUMER_LAG_MESSAGES, CONSUMER_LAG_SECONDS
from streams.core.runtime import Runtime, tables_ready
from streams.web.features import ID, FeatureSource, redis_answer, table_body

log = logging.getLogger(__name__)
VERDICTS = ("accepted", "edited", "rejected")
TIMELINE_ROWS = 30
Rows = list[dict[str, Any]]


class Analytics(Protocol):
    """The ClickHouse sink's read path (``/sql``)."""

    async def query(self, sql: str, fmt: str) -> bytes: ...


class ConsoleError(Exception):
    """A request the console refuses: ``status`` and a message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Customer360:
    customer_id: str
    features: dict[str, Any] | None
    features_source: str
    scores: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    erased_at: float | None = None
    notes: list[str] = field(default_factory=list)


def checked_id(value: str, what: str) -> str:
    if not ID.match(value):
        raise ConsoleError(400, f"bad {what}: 1-128 of A-Z a-z 0-9 ._:@-/+=")
    return value


def literal(value: str) -> str:
    r"""A ClickHouse string literal (ids are checked first; quotes escaped all the same).

    >>> print(literal("c'1"))
    'c\'1'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ops(settings: Any) -> dict[str, Any]:
    """Consumer lag (records, and seconds of the oldest), the LLM breaker, drafting mode."""
    records = sum(s.value for m in CONSUMER_LAG_MESSAGES.collect() for s in m.samples)
    seconds = max((s.value for m in CONSUMER_LAG_SECONDS.collect() for s in m.samples), default=0)
    breaker = _value(BREAKER_OPEN)
    cheap = _value(DRAFT_MODE)
    mode = "cheap (under lag)" if cheap else "normal"
    if not settings.drafting_enabled:
        mode = "off"
    return {
        "lag_records": int(records),
        "lag_seconds": round(seconds, 1),
        "breaker": "open" if breaker else "closed",
        "drafting": mode,
        "model": settings.llm_model,
    }


def _value(gauge: Gauge) -> float:
    return sum(s.value for m in gauge.collect() for s in m.samples)


class Console:
    def __init__(
        self,
        runtime: Runtime,
        drafts: DraftStore,
        features: FeatureSource | None,
        analytics: Analytics | None,
    ) -> None:
        self.runtime = runtime
        self.drafts = drafts
        self.features = features
        self.analytics = analytics
        s = runtime.settings
        self.limits = Limits(s.max_event_bytes, s.max_future_skew_s)

    async def queue(self) -> list[dict[str, Any]]:
        try:
            return await self.drafts.queue()
        except DraftStoreError as exc:
            raise ConsoleError(503, str(exc)) from exc

    async def conversation(
        self, conversation_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The conversation's drafts (each with the message it answers) and its thread
        from ClickHouse (empty without a local sink)."""
        checked_id(conversation_id, "conversation id")
        try:
            drafts = await self.drafts.conversation(conversation_id)
        except DraftStoreError as exc:
            raise ConsoleError(503, str(exc)) from exc
        thread = await self._rows(  # ids checked, then quoted by literal()
            "SELECT occurred_at, direction, channel, text FROM interactions "  # noqa: S608
            f"WHERE conversation_id = {literal(conversation_id)} AND type = 'message' "
            f"ORDER BY occurred_at DESC, event_id LIMIT {TIMELINE_ROWS}"
        )
        return drafts, thread[::-1]

    async def verdict(
        self, draft_id: str, verdict: str, final_text: str | None, agent_id: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send the reviewer's verdict as a ``draft_feedback`` event; the event and the
        draft it is about."""
        checked_id(draft_id, "draft id")
        if verdict not in VERDICTS:
            raise ConsoleError(400, f"verdict must be one of {', '.join(VERDICTS)}")
        try:
            draft = await self.drafts.draft(draft_id)
        except DraftStoreError as exc:
            raise ConsoleError(503, str(exc)) from exc
        if draft is None:
            raise ConsoleError(404, f"no draft {draft_id}: unknown, expired or erased")
        text = (final_text or "").strip() or None
        if verdict == "edited" and text is None:
            raise ConsoleError(400, "an edited draft needs its final text")
        if verdict != "edited":
            text = None
        digest = hashlib.sha256(f"{draft_id}|{verdict}|{text or ''}".encode()).hexdigest()
        event: dict[str, Any] = {
            "type": "draft_feedback",
            "event_id": f"fb-{digest[:32]}",
            "customer_id": draft["customer_id"],
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "console",
            "draft_id": draft_id,
            "verdict": verdict,
        }
        if text is not None:
            event["final_text"] = text
        if agent_id:
            event["agent_id"] = agent_id
        if draft.get("intent"):  # what an accepted verdict confirms
            event["intent"] = draft["intent"]
        raw, key = orjson.dumps(event), str(draft["customer_id"]).encode()
        outcome = check(raw, key, datetime.now(UTC), self.limits)
        if not isinstance(outcome, Accepted):
            raise ConsoleError(400, outcome.reason)
        topic = self.runtime.topics["interactions"]
        await (await topic.send(key=key, value=raw))
        return event, draft

    async def customer(self, customer_id: str) -> Customer360:
        checked_id(customer_id, "customer id")
        features, source, notes = await self._features(customer_id)
        found = Customer360(customer_id, features, source, notes=notes)
        try:
            found.erased_at = await self.drafts.erased_at(customer_id)
        except DraftStoreError as exc:
            found.notes.append(f"erasure status unknown: {exc}")
        found.scores = await self._rows(
            "SELECT model, argMax(prediction, occurred_at) AS prediction, "  # noqa: S608
            "argMax(confidence, occurred_at) AS confidence, "
            "argMax(explanation, occurred_at) AS explanation, max(occurred_at) AS at "
            f"FROM insights WHERE customer_id = {literal(customer_id)} "
            "GROUP BY model ORDER BY model"
        )
        for score in found.scores:
            score["explanation"] = _json(score.get("explanation"))
        found.timeline = await self._rows(
            "SELECT occurred_at, type, channel, direction, text, amount, currency, score "  # noqa: S608
            f"FROM interactions WHERE customer_id = {literal(customer_id)} "
            f"ORDER BY occurred_at DESC, event_id LIMIT {TIMELINE_ROWS}"
        )
        if self.analytics is None:
            found.notes.append(
                "scores and timeline come from ClickHouse, read on the worker running the "
                "sink: open the console there"
            )
        return found

    async def _features(self, customer_id: str) -> tuple[dict[str, Any] | None, str, list[str]]:
        source = self.features
        if source is None:
            return None, "none", ["this worker keeps no features (RAPPORT_AGENTS)"]
        app = self.runtime.app
        here = str(app.conf.canonical_url)
        if tables_ready(app) and source.owns(customer_id):
            local = source.local_features(customer_id)
            if local is None:
                return None, "table", []
            return dict(table_body(customer_id, *local, here)["features"]), "table (current)", []
        status, body = await redis_answer(source, customer_id, here)
        if status != 200:
            return None, "redis", [str(body.get("detail", ""))] if status != 404 else []
        return dict(body["features"]), f"redis copy, {body['age_s']} s old", []

    async def _rows(self, sql: str) -> Rows:
        if self.analytics is None:
            return []
        try:
            raw = await self.analytics.query(sql, "JSONEachRow")
        except Exception as exc:  # the page shows what it has; the log says why
            log.warning("console: ClickHouse read failed: %s", exc)
            return []
        return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def _json(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value
