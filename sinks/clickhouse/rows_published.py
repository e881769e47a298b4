"""Rapport's own published records to rows: dead letters, feature snapshots, insights, drafts.

Same contract as :mod:`sinks.clickhouse.rows`: a converter never raises; a record it cannot
read comes back as a rejection. A dead letter it cannot read is stored as such.

>>> raw = (b'{"insight_id": "i1", "customer_id": "c1", "event_id": "e1", "model": "churn",'
...        b' "model_version": 2, "prediction": 0.25, "occurred_at": "2026-01-02T03:04:05Z",'
...        b' "produced_at": "2026-01-02T03:04:06Z"}')
>>> table, row = from_insight(raw, Origin("insights", 1, 9)).rows[0]
>>> table, row[3:7]
('insights', ('churn', 2, '0.25', 0.25))
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import orjson
from pydantic import ValidationError

from schemas.published import DeadLetter, DraftedReply, FeatureSnapshot, Insight
from sinks.base import Origin
from sinks.clickhouse.columns import TIME_RANGE_MS, epoch_ms
from sinks.clickhouse.rows import Converted, refused
from sinks.pii_mask import redact

MAX_PAYLOAD_CHARS: Final = 65_536
"""Dead-letter payloads longer than this are cut in ClickHouse (the DLQ topic keeps all)."""


def from_dead_letter(raw: bytes | None, origin: Origin) -> Converted:
    """A dead letter; one the sink cannot read is stored as such, never lost."""
    try:
        letter = DeadLetter.model_validate_json(raw or b"")
    except (ValidationError, ValueError) as exc:
        now = epoch_ms(datetime.now(UTC))
        text = (raw or b"").decode("utf-8", "replace")
        return Converted(
            rows=(
                (
                    "dead_letters",
                    (
                        origin.topic,
                        origin.partition,
                        origin.offset,
                        "",
                        "",
                        "unreadable_dead_letter",
                        f"not a dead-letter record: {exc}"[:2000],
                        _cut(redact(text)),
                        "utf-8",
                        now,
                        now,
                    ),
                ),
            )
        )
    customer, occurred = _subject(letter)
    lettered = epoch_ms(letter.dead_lettered_at)
    payload = letter.payload if letter.payload_encoding == "base64" else redact(letter.payload)
    return Converted(
        rows=(
            (
                "dead_letters",
                (
                    letter.topic,
                    letter.partition,
                    letter.offset,
                    letter.key or "",
                    customer,
                    letter.reason_code,
                    letter.reason,
                    _cut(payload),
                    letter.payload_encoding,
                    occurred if occurred is not None else lettered,
                    lettered,
                ),
            ),
        )
    )


def _subject(letter: DeadLetter) -> tuple[str, int | None]:
    """The customer and event time named in the payload, when it is a JSON object."""
    try:
        body = orjson.loads(letter.original_bytes())
    except (orjson.JSONDecodeError, ValueError):
        return letter.key or "", None
    if not isinstance(body, dict):
        return letter.key or "", None
    customer = body.get("customer_id")
    customer = customer if isinstance(customer, str) else letter.key or ""
    try:
        at = epoch_ms(datetime.fromisoformat(str(body.get("occurred_at"))))
    except (ValueError, TypeError):
        return customer, None
    return customer, at if TIME_RANGE_MS[0] <= at <= TIME_RANGE_MS[1] else None


def _cut(text: str) -> str:
    if len(text) <= MAX_PAYLOAD_CHARS:
        return text
    return f"{text[:MAX_PAYLOAD_CHARS]}...[cut: {len(text)} chars in the DLQ topic]"


def from_features(raw: bytes | None, origin: Origin) -> Converted:
    """A feature snapshot: numbers (and booleans) in ``numeric``, strings in ``categorical``."""
    if not raw:
        return Converted()  # a tombstone on the compacted topic
    try:
        snap = FeatureSnapshot.model_validate_json(raw)
    except ValidationError as exc:
        return refused("invalid_record", exc)
    numeric = {k: float(v) for k, v in snap.features.items() if isinstance(v, int | float)}
    categorical = {k: v for k, v in snap.features.items() if isinstance(v, str)}
    return Converted(
        rows=(
            (
                "feature_snapshots",
                (
                    snap.customer_id,
                    epoch_ms(snap.as_of),
                    numeric,
                    categorical,
                    snap.schema_version,
                    origin.partition,
                    origin.offset,
                ),
            ),
        )
    )


METRICS_PREFIX: Final = "metrics_"
METRICS_SUBJECT: Final = "#models"
"""A model set's prequential figures are published as a ``metrics_{model}`` insight of
this subject (``agents.scoring.report``); the sink also unfolds them into ``model_metrics``."""


def from_insight(raw: bytes | None, origin: Origin) -> Converted:
    """An insight: a label in ``prediction``; a number also in ``score``. A metrics insight
    also gives its figures to ``model_metrics``, one row per metric and segment.

    >>> raw = (b'{"insight_id": "m", "customer_id": "#models", "event_id": "e",'
    ...        b' "model": "metrics_intent", "model_version": 7, "prediction": 0.8,'
    ...        b' "explanation": {"partition": 3, "examples": 40, "overall": {"accuracy": 0.8},'
    ...        b' "by_segment": {"email": {"accuracy": 0.75}}},'
    ...        b' "occurred_at": "2026-01-02T03:04:05Z", "produced_at": "2026-01-02T03:04:06Z"}')
    >>> [(t, r[:7]) for t, r in from_insight(raw, Origin("insights", 1, 9)).rows[1:]]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('model_metrics', ('intent', 7, 'accuracy', 'all', 3, 0.8, 40)),
     ('model_metrics', ('intent', 7, 'accuracy', 'email', 3, 0.75, 40))]
    """
    try:
        ins = Insight.model_validate_json(raw or b"")
    except ValidationError as exc:
        return refused("invalid_record", exc)
    number = isinstance(ins.prediction, int | float)
    row = (
        ins.insight_id,
        ins.customer_id,
        ins.event_id,
        ins.model,
        ins.model_version,
        str(ins.prediction),
        float(ins.prediction) if number else None,
        ins.confidence,
        orjson.dumps(ins.explanation).decode(),
        epoch_ms(ins.occurred_at),
        epoch_ms(ins.produced_at),
        origin.partition,
        origin.offset,
    )
    rows: list[tuple[str, tuple[object, ...]]] = [("insights", row)]
    if ins.customer_id == METRICS_SUBJECT and ins.model.startswith(METRICS_PREFIX):
        rows.extend(("model_metrics", r) for r in _metric_rows(ins))
    return Converted(rows=tuple(rows))


def _metric_rows(ins: Insight) -> list[tuple[object, ...]]:
    """``model_metrics`` rows of a metrics insight: overall (segment ``all``) and by segment."""
    ex = ins.explanation
    model = ins.model.removeprefix(METRICS_PREFIX)
    partition, examples = int(ex.get("partition", 0)), int(ex.get("examples", 0))
    at = epoch_ms(ins.occurred_at)
    groups = {"all": ex.get("overall", {}), **ex.get("by_segment", {})}
    return [
        (model, ins.model_version, metric, segment, partition, float(value), examples, at)
        for segment, figures in groups.items()
        if isinstance(figures, dict)
        for metric, value in figures.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def from_draft(raw: bytes | None, origin: Origin) -> Converted:
    try:
        d = DraftedReply.model_validate_json(raw or b"")
    except ValidationError as exc:
        return refused("invalid_record", exc)
    row = (
        d.draft_id, d.request_id, d.customer_id, d.conversation_id, redact(d.text), len(d.text),
        d.model, d.prompt_version, d.latency_ms, d.prompt_tokens, d.completion_tokens,
        d.estimated_cost_usd, list(d.flags), d.fallback, epoch_ms(d.created_at),
        origin.partition, origin.offset, d.intent or "", d.mode, d.kind, d.attempts,
    )  # fmt: skip
    return Converted(rows=(("drafts", row),))
