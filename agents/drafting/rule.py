"""What gets a draft: the stated rule, on a customer's recent conversations.

An inbound message gets a reply request when all three hold:

1. **direction**: it is ``inbound`` (an outbound message is an agent's reply: it is
   recorded as a turn and marks the conversation ``answered``);
2. **intent**: its detected intent is not ``acknowledgement`` (thanks, ok, bye with
   no question in it: nothing to answer; after an answer it closes the conversation);
3. **conversation state**: it does not repeat, word for word, the previous inbound
   message of a conversation still ``awaiting`` an answer (a re-sent message is
   answered by the draft of the first).

Every message, drafted or not, becomes a turn; the last ``turns`` turns of the last
``conversations`` conversations of a customer are kept (text cut to 500 characters)
and sent with the request. A redelivered message (same event id) is not added twice.

>>> convs = Conversations.decode(None)
>>> decide(convs, "c1", "e1", "inbound", text="Where is my order?", intent="track_order").reason
'inbound_needs_reply'
>>> convs.add("c1", "e1", "customer", "Where is my order?", 0.0, turns=6, keep=5)
>>> decide(convs, "c1", "e2", "inbound", text="where is my order?", intent="track_order").reason
'repeat_while_awaiting'
>>> decide(convs, "c1", "e3", "inbound", text="thanks!", intent="acknowledgement").needs
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from agents.drafting.llm.intent import ACKNOWLEDGEMENT

TURN_CHARS: Final = 500
HIGH_PRIORITY: Final = frozenset(
    {"complaint", "payment_issue", "contact_human_agent", "cancel_order", "delete_account"}
)


@dataclass(frozen=True)
class Decision:
    needs: bool
    reason: str


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


ERASED: Final = "#erased"
"""The key of the erasure time in an encoded record (no conversation id holds ``#``)."""


@dataclass
class Conversations:
    """One customer's recent conversations: ``{id: {"state", "turns", "updated"}}``, and
    when the customer was last erased (``erased_at``; ``erasure_known``: whether this
    record says, None included; records written before it was kept do not).

    >>> convs = Conversations.decode(None)
    >>> convs.erasure_known, Conversations.decode(convs.erased(1.5).encode()).erased_at
    (False, 1.5)
    """

    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    erased_at: float | None = None
    erasure_known: bool = False

    @classmethod
    def decode(cls, raw: bytes | None) -> Conversations:
        data = orjson.loads(raw) if raw else {}
        known = ERASED in data
        erased = data.pop(ERASED, None)
        return cls(data, None if erased is None else float(erased), known)

    def encode(self) -> bytes:
        return orjson.dumps({**self.data, ERASED: self.erased_at})

    def erased(self, at: float) -> Conversations:
        """The record of an erased customer: no conversations, the latest erasure time."""
        latest = at if self.erased_at is None else max(at, self.erased_at)
        return Conversations({}, latest, True)

    def turns(self, conversation_id: str) -> list[dict[str, Any]]:
        conv = self.data.get(conversation_id)
        return list(conv["turns"]) if conv else []

    def state(self, conversation_id: str) -> str:
        conv = self.data.get(conversation_id)
        return str(conv["state"]) if conv else "new"

    def seen(self, conversation_id: str, event_id: str) -> bool:
        return any(t["id"] == event_id for t in self.turns(conversation_id))

    def add(
        self,
        conversation_id: str,
        event_id: str,
        role: str,
        text: str,
        at: float,
        *,
        turns: int,
        keep: int,
        state: str | None = None,
    ) -> None:
        conv = self.data.setdefault(conversation_id, {"state": "new", "turns": [], "updated": at})
        if not self.seen(conversation_id, event_id):
            conv["turns"] = [
                *conv["turns"],
                {"id": event_id, "role": role, "text": text[:TURN_CHARS], "at": at},
            ][-max(turns, 1) :]
        conv["state"] = state or ("awaiting" if role == "customer" else "answered")
        conv["updated"] = max(float(conv["updated"]), at)
        if len(self.data) > keep:
            oldest = sorted(self.data, key=lambda c: float(self.data[c]["updated"]))
            for stale in oldest[: len(self.data) - keep]:
                del self.data[stale]


def decide(
    convs: Conversations,
    conversation_id: str,
    event_id: str,
    direction: str,
    *,
    text: str,
    intent: str,
) -> Decision:
    """Apply the rule to one message (before it is added as a turn)."""
    if direction != "inbound":
        return Decision(False, "outbound")
    if not text.strip():
        return Decision(False, "empty")
    if intent == ACKNOWLEDGEMENT:
        return Decision(False, "acknowledgement")
    if convs.state(conversation_id) == "awaiting":
        previous = [
            t
            for t in convs.turns(conversation_id)
            if t["role"] == "customer" and t["id"] != event_id
        ]
        if previous and _norm(previous[-1]["text"]) == _norm(text):
            return Decision(False, "repeat_while_awaiting")
    return Decision(True, "inbound_needs_reply")


def next_state(decision: Decision, direction: str, previous: str) -> str:
    """The conversation state after the message."""
    if direction != "inbound":
        return "answered"
    if decision.reason == "acknowledgement":
        return "closed" if previous in ("answered", "closed") else previous
    return "awaiting"


def priority(intent: str, low: frozenset[str] | set[str]) -> str:
    if intent in HIGH_PRIORITY:
        return "high"
    return "low" if intent in low else "normal"
