"""Records Rapport itself publishes, each on its own named topic.

Same compatibility rule as the inbound contract: consumers ignore unknown fields,
producers only add optional fields within a major version.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import SCHEMA_VERSION

Encoding = Literal["utf-8", "base64"]


class Published(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: str = SCHEMA_VERSION


class DeadLetter(Published):
    """An input Rapport refused: the original bytes, why, and where it came from."""

    reason: str = Field(description="Specific, with the field path: 'order.amount: ...'")
    reason_code: str = Field(description="Stable machine-readable class of the reason")
    payload: str = Field(
        description="The original value bytes, as text or base64",
        json_schema_extra={"x-personal-data": "whatever the producer sent, unredacted"},
    )
    payload_encoding: Encoding
    key: str | None = None
    topic: str
    partition: int
    offset: int
    dead_lettered_at: AwareDatetime

    @classmethod
    def build(
        cls,
        *,
        raw: bytes,
        key: bytes | None,
        reason: str,
        reason_code: str,
        topic: str,
        partition: int,
        offset: int,
        now: datetime,
    ) -> DeadLetter:
        payload, encoding = encode_bytes(raw)
        key_text = None if key is None else encode_bytes(key)[0]
        return cls(
            reason=reason,
            reason_code=reason_code,
            payload=payload,
            payload_encoding=encoding,
            key=key_text,
            topic=topic,
            partition=partition,
            offset=offset,
            dead_lettered_at=now,
        )

    def original_bytes(self) -> bytes:
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode()


def encode_bytes(raw: bytes) -> tuple[str, Encoding]:
    """UTF-8 text when it decodes, base64 otherwise.

    >>> encode_bytes(b"ok"), encode_bytes(b"\\xff")
    (('ok', 'utf-8'), ('/w==', 'base64'))
    """
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


class FeatureSnapshot(Published):
    customer_id: str
    as_of: AwareDatetime
    features: dict[str, float | int | str | None]


class Insight(Published):
    """One model output about one customer at one event time."""

    insight_id: str = Field(description="Stable: event_id + model, the idempotency key")
    customer_id: str
    event_id: str
    model: str
    model_version: int
    prediction: str | float | int
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    explanation: dict[str, Any] = {}
    occurred_at: AwareDatetime
    produced_at: AwareDatetime


class ConversationTurn(BaseModel):
    """One earlier message of the conversation, oldest first."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Literal["customer", "agent"]
    text: str
    at: AwareDatetime | None = None


class ReplyRequest(Published):
    request_id: str = Field(description="The inbound message's event_id: one draft per message")
    customer_id: str
    conversation_id: str
    message_event_id: str
    text: str = Field(
        description="The inbound message, redacted: e-mails, phones, cards, IBANs, national "
        "ids, addresses and configured identifiers as placeholders ([EMAIL_1])",
        json_schema_extra={"x-personal-data": "placeholders only"},
    )
    channel: str
    intent: str | None = None
    intent_source: Literal["model", "rules"] = Field(
        "rules",
        description="model: the intent model's prediction (confidence at least "
        "RAPPORT_DRAFTING_INTENT_MIN_CONFIDENCE); rules: the keyword rules (the fallback)",
    )
    intent_confidence: float | None = Field(
        None, description="The intent model's confidence in its prediction, when it had one"
    )
    kind: Literal["reply", "engagement"] = "reply"
    occurred_at: AwareDatetime
    turns: list[ConversationTurn] = Field(
        [],
        description="The conversation's last turns before this message, oldest first, "
        "redacted like text (one placeholder numbering)",
        json_schema_extra={"x-personal-data": "placeholders only"},
    )
    priority: Literal["low", "normal", "high"] = "normal"
    segment: str | None = None
    churn_risk: Annotated[float, Field(ge=0, le=1)] | None = None
    reason: str | None = Field(None, description="Why a draft is requested (the rule's outcome)")


class DraftedReply(Published):
    draft_id: str
    request_id: str
    customer_id: str
    conversation_id: str
    text: str = Field(
        description="The draft: never a card number, IBAN or national id; the customer's "
        "own e-mail, phone and address only with RAPPORT_DRAFTING_RESTORE_CONTACTS",
        json_schema_extra={"x-personal-data": "the customer's contacts, if the setting allows"},
    )
    model: str
    prompt_version: str
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_cost_usd: float = 0.0
    flags: list[str] = []
    fallback: bool = False
    pending_review: Literal[True] = True
    created_at: AwareDatetime
    intent: str | None = None
    intent_source: Literal["model", "rules"] = Field(
        "rules", description="Where the intent the draft was written for came from"
    )
    mode: Literal["normal", "cheap"] = Field(
        "normal", description="cheap: drafted under reply-request lag (shorter, templates)"
    )
    attempts: int = Field(0, description="LLM attempts made (0: no call)")
    kind: Literal["reply", "engagement"] = "reply"
