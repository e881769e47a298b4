"""The reply-request agent: ``events`` in, reply requests out (see :mod:`agents.drafting.rule`).

It keeps each customer's recent conversations in the ``reply-conversations`` table
(changelog-backed, written while the event is processed), applies the rule to every
message and emits a :class:`ReplyRequest` (keyed by customer, id = the message's
event id) to ``reply-requests`` for the drafting agent. Its texts (the message and the
conversation's last turns) are redacted first (:mod:`agents.drafting.llm.redact`):
the topic carries placeholders (``[EMAIL_1]``), and what they stand for is kept in
Redis under the request id (``DraftStore.keep_values``), expiring with the drafts and
erased with the customer. It also counts reviewers'
``draft_feedback`` per model and prompt version (the scoring stage learns intent labels
from the same events: :mod:`agents.scoring.text`), and on an ``erasure`` forgets the
customer's conversations (its record keeps only the erasure time, so a replay of older
messages is refused without a Redis call) and purges their cached drafts and prompts.

A second agent reads ``insights``: when a customer's churn risk rises across
``drafting_churn_threshold`` (at most once per ``drafting_engagement_cooldown_s``) it
emits an ``engagement`` request through the same path. No exception escapes either.

Reply requests are emitted whether or not this worker drafts. With drafting off nothing
in the worker reads ``reply-requests``, and Faust creates only the topics its agents read;
the app's start task declares the others (:mod:`streams.app`), but a worker that starts
on a backlog sends its first reply request before that task gets there. A send to a topic
missing from the producer's metadata logged "Topic ... not found", left the topic to the
broker's auto-creation (with the broker's defaults, where enabled), and switched the
producer's client to tracking topics by name: its next metadata answers held only those,
so batches already queued for the others (``events``, changelogs) lost their leader and
stayed queued until they expired; the commit, which flushes them first, waited, and the
worker stalled (seen: 4 of 107 events forwarded, then nothing). So :meth:`ReplyRequests.emit`
first declares the topic (once) and waits until the producer's metadata holds it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

import faust
import orjson
from pydantic import ValidationError

from agents.drafting import metrics as dm
from agents.drafting.build import redactor_of
from agents.drafting.llm.intent import ACKNOWLEDGEMENT, detect
from agents.drafting.llm.redact import Redacted
from agents.drafting.rule import Conversations, decide, next_state, priority
from agents.drafting.store import DraftStore, DraftStoreError
from schemas.events import DraftFeedback, ErasureRequest, Message, parse_event
from schemas.examples import is_example
from schemas.published import ConversationTurn, Insight, ReplyRequest
from streams.core import metrics
from streams.core.batches import batches, use
from streams.core.runtime import Runtime

log = logging.getLogger(__name__)
TOPIC_METADATA_WAIT_S: Final = 10.0
AGENT = "reply-requests"
ENGAGE_AGENT = "engagement"
CHURN_MODELS: Final = frozenset({"churn", "churn_risk"})
SEGMENT_MODELS: Final = frozenset({"segment", "segmentation"})
ERASE_ATTEMPTS: Final = 4
PLACEHOLDER: Final = re.compile(r"\[[A-Z_]+_\d+\]")
"""A redacted value (``[EMAIL_1]``) in a stored message."""
_WANTED: Final = (b'"message"', b'"draft_feedback"', b'"erasure"')
_ENGAGING: Final = tuple(m.encode() for m in (*CHURN_MODELS, *SEGMENT_MODELS))
"""The insights engagement reads: churn risk and segments (a byte test before parsing)."""


class IntentModel(Protocol):
    """The scoring stage's intent model, read by partition (``agents.scoring``)."""

    def intent_of(self, partition: int, text: str) -> tuple[str, float] | None: ...


def choose_intent(
    text: str, found: tuple[str, float] | None, min_confidence: float
) -> tuple[str, Literal["model", "rules"], float | None]:
    """The intent a request is made for: the model's when it is confident, else the
    keyword rules'. An acknowledgement (thanks, ok, bye) is the rules' call: the model
    knows no such class, and it decides that no reply is needed.

    >>> choose_intent("I want my money back", ("get_refund", 0.9), 0.6)
    ('get_refund', 'model', 0.9)
    >>> choose_intent("where is my order?", ("track_order", 0.4), 0.6)
    ('track_order', 'rules', 0.4)
    >>> choose_intent("thanks!", ("get_refund", 0.99), 0.6)[:2]
    ('acknowledgement', 'rules')
    """
    rules = detect(text)
    if found is None:
        return rules, "rules", None
    label, confidence = found
    if confidence >= min_confidence and rules != ACKNOWLEDGEMENT:
        return label, "model", confidence
    return rules, "rules", confidence


class ReplyRequests:
    def __init__(
        self,
        runtime: Runtime,
        conversations: Any,
        customers: Any,
        intents: IntentModel | None = None,
    ) -> None:
        s = self.settings = runtime.settings
        self.producer = runtime.app.producer
        self.requests_name = s.topic_name("reply_requests")
        self.requests_topic = runtime.topics["reply_requests"]
        self._declared = False
        self._declaring = asyncio.Lock()
        self.conversations = conversations
        self.customers = customers
        self.low = frozenset(s.drafting_low_priority_intents)
        self.store = DraftStore(
            s.redis_url.get_secret_value(), s.redis_key_prefix, s.drafting_claim_ttl_s
        )
        self.redactor = redactor_of(s)
        self.intents = intents
        """The intent model (None without the scoring stage in this worker: rules only)."""

    async def handle(self, value: bytes | None, partition: int = -1) -> None:
        metrics.EVENTS_IN.labels(AGENT).inc()
        if not value or not any(tag in value for tag in _WANTED):
            return
        try:
            event = parse_event(value)
        except ValidationError:
            return  # ingest validated it; the feature agent dead-letters what still fails
        try:
            if isinstance(event, Message):
                await self.message(event, partition)
            elif isinstance(event, DraftFeedback):
                await self.feedback(event)
            elif isinstance(event, ErasureRequest):
                await self.erase(event)
        except Exception:
            metrics.AGENT_ERRORS.labels(AGENT).inc()
            log.exception("reply-requests failed on event %s", event.event_id)

    async def message(self, msg: Message, partition: int = -1) -> None:
        convs = Conversations.decode(self.conversations.get(msg.customer_id))
        if await self._erased_since(msg, convs):
            dm.NO_REPLY.labels("erased").inc()
            return
        if convs.seen(msg.conversation_id, msg.event_id) and msg.direction != "inbound":
            return
        source: Literal["model", "rules"] = "rules"
        confidence = None
        if msg.direction == "inbound":
            found = None
            if self.intents is not None and partition >= 0:
                found = self.intents.intent_of(partition, msg.text)
            minimum = self.settings.drafting_intent_min_confidence
            intent, source, confidence = choose_intent(msg.text, found, minimum)
            dm.INTENT_SOURCE.labels(source).inc()
        else:
            intent = "agent_reply"
        history = [t for t in convs.turns(msg.conversation_id) if t["id"] != msg.event_id]
        decision = decide(
            convs, msg.conversation_id, msg.event_id, msg.direction, text=msg.text, intent=intent
        )
        state = next_state(decision, msg.direction, convs.state(msg.conversation_id))
        convs.add(
            msg.conversation_id,
            msg.event_id,
            "customer" if msg.direction == "inbound" else "agent",
            msg.text,
            msg.occurred_at.timestamp(),
            turns=self.settings.drafting_turns,
            keep=self.settings.drafting_conversations,
            state=state,
        )
        self.conversations[msg.customer_id] = convs.encode()
        if not decision.needs:
            dm.NO_REPLY.labels(decision.reason).inc()
            return
        context = orjson.loads(self.customers.get(msg.customer_id) or b"{}")
        turns = history[-self.settings.drafting_turns :] if self.settings.drafting_turns else []
        red = Redacted("")  # one numbering for the message and its turns
        redacted = [(t, self.redactor.redact(t["text"], red).text) for t in turns]
        text = self.redactor.redact(msg.text, red).text
        if red.values:  # kept for the drafter, erased with the customer's drafts
            await self.store.keep_values(msg.event_id, msg.customer_id, red.values)
        request = ReplyRequest(
            request_id=msg.event_id,
            customer_id=msg.customer_id,
            conversation_id=msg.conversation_id,
            message_event_id=msg.event_id,
            text=text,
            channel=msg.channel,
            intent=intent,
            intent_source=source,
            intent_confidence=confidence,
            occurred_at=msg.occurred_at,
            turns=[_turn(t, said) for t, said in redacted],
            priority=priority(intent, self.low),
            segment=context.get("segment"),
            churn_risk=context.get("churn"),
            reason=decision.reason,
        )
        await self.emit(request)

    async def _erased_since(self, msg: Message, convs: Conversations) -> bool:
        """Whether the customer was erased after this message was sent (a replay of an
        erased customer's old messages must not refill the conversations or
        ``reply-requests``). The customer's conversations record says (written by
        :meth:`erase`, moving with its partition); a customer without one (a first
        message, or a record from before it was kept) is looked up once in the drafting
        store, and the answer is kept in the record. Redis unreachable: not known here,
        the drafting agent checks again before drafting."""
        if not convs.erasure_known:
            try:
                convs.erased_at = await self.store.erased_at(msg.customer_id)
                convs.erasure_known = True
            except DraftStoreError as exc:
                log.warning("reply-requests: erasure check of %s failed: %s", msg.event_id, exc)
                return False
        erased = convs.erased_at
        return erased is not None and msg.occurred_at.timestamp() <= erased

    async def declare(self) -> None:
        """Create ``reply-requests`` (as declared: partitions, retention, record size) if it
        does not exist, and wait until the producer's metadata holds it, so that no send
        ever finds it missing (see the module). Retried at the next emit if it fails."""
        if self._declared:
            return
        async with self._declaring:
            if self._declared:
                return
            try:
                await self.requests_topic.maybe_declare()
                await self._until_known()
            except Exception as exc:
                log.warning("could not declare %s (retried): %s", self.requests_name, exc)
                return
            self._declared = True

    async def _until_known(self) -> None:
        """Refresh the producer's metadata until it knows the topic (a topic just created
        can be missing from a broker's metadata for a moment)."""
        client = self.producer._producer.client  # type: ignore[attr-defined]
        deadline = asyncio.get_running_loop().time() + TOPIC_METADATA_WAIT_S
        while client.cluster.partitions_for_topic(self.requests_name) is None:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("%s not in the producer's metadata yet", self.requests_name)
                return
            await client.force_metadata_update()
            await asyncio.sleep(0.1)

    async def emit(self, request: ReplyRequest) -> None:
        await self.declare()
        await self.producer.send(
            self.requests_name,
            request.customer_id.encode(),
            request.model_dump_json().encode(),
            None,
            None,
            None,
        )
        dm.REPLY_REQUESTS.labels(request.kind, request.reason or "").inc()
        metrics.EVENTS_OUT.labels(AGENT, "reply_requests").inc()

    async def feedback(self, fb: DraftFeedback) -> None:
        try:
            labels = await self.store.feedback(fb.event_id, fb.draft_id, fb.verdict)
        except DraftStoreError as exc:
            log.warning("feedback %s not counted: %s", fb.event_id, exc)
            return
        if labels is not None:
            dm.FEEDBACK.labels(*labels, fb.verdict).inc()
            if fb.verdict == "edited" and fb.final_text and self.settings.drafting_learn_edits:
                await self._learn_edit(fb.draft_id, fb.final_text)

    async def _learn_edit(self, draft_id: str, final_text: str) -> None:
        """An edited reply becomes an example for the customer's later prompts, when
        neither it nor the message it answers holds an identifier (names are not
        detected: see docs/drafting.md)."""
        try:
            draft = await self.store.draft(draft_id)
            if draft is None or not draft.get("message"):
                return
            message, customer = str(draft["message"]), str(draft["customer_id"])
            found = Redacted("")  # the message is stored redacted: its placeholders say
            self.redactor.redact(final_text, found)
            if found.values or PLACEHOLDER.search(message) or PLACEHOLDER.search(final_text):
                dm.EDITS.labels("identifiers").inc()
                return
            await self.store.keep_shot(customer, message, final_text)
            dm.EDITS.labels("kept").inc()
        except DraftStoreError as exc:
            log.warning("edited reply of %s not kept: %s", draft_id, exc)

    async def erase(self, erasure: ErasureRequest) -> None:
        cid = erasure.customer_id
        convs = Conversations.decode(self.conversations.get(cid))
        self.conversations[cid] = convs.erased(erasure.occurred_at.timestamp()).encode()
        self.customers.pop(erasure.customer_id, None)
        for attempt in range(ERASE_ATTEMPTS):
            try:
                purged = await self.store.erase(
                    erasure.customer_id, erasure.occurred_at.timestamp()
                )
            except DraftStoreError as exc:
                log.warning(
                    "erasure %s: purge attempt %d failed: %s", erasure.event_id, attempt, exc
                )
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            log.info("erasure %s: %d cached drafts purged", erasure.event_id, purged)
            return
        dm.DRAFT_FAILURES.labels("erasure_purge").inc()
        log.error("erasure %s: cached drafts NOT purged (Redis unreachable)", erasure.event_id)

    # --- engagement
    async def insight(self, value: bytes | None) -> None:
        metrics.EVENTS_IN.labels(ENGAGE_AGENT).inc()
        if not value or not any(model in value for model in _ENGAGING):
            return  # sentiment, intent, anomaly, reco...: not parsed
        try:
            ins = Insight.model_validate_json(value or b"")
        except ValidationError:
            return
        try:
            await self._engage(ins)
        except Exception:
            metrics.AGENT_ERRORS.labels(ENGAGE_AGENT).inc()
            log.exception("engagement failed on insight %s", ins.insight_id)

    async def _engage(self, ins: Insight) -> None:
        context = orjson.loads(self.customers.get(ins.customer_id) or b"{}")
        if ins.model in SEGMENT_MODELS:
            context["segment"] = str(ins.prediction)
        elif ins.model in CHURN_MODELS and isinstance(ins.prediction, int | float):
            before, risk = context.get("churn"), float(ins.prediction)
            context["churn"] = min(1.0, max(0.0, risk))
            if self._rising(before, risk, context.get("engaged_at"), ins.occurred_at):
                context["engaged_at"] = ins.occurred_at.timestamp()
                await self.emit(self._engagement(ins, context))
        else:
            return
        self.customers[ins.customer_id] = orjson.dumps(context)

    def _rising(
        self, before: float | None, risk: float, engaged_at: float | None, at: datetime
    ) -> bool:
        threshold = self.settings.drafting_churn_threshold
        crossed = risk >= threshold and (before is None or before < threshold)
        cooldown = self.settings.drafting_engagement_cooldown_s
        return crossed and (engaged_at is None or at.timestamp() - engaged_at >= cooldown)

    @staticmethod
    def _engagement(ins: Insight, context: dict[str, Any]) -> ReplyRequest:
        return ReplyRequest(
            request_id=f"engage-{ins.insight_id}",
            customer_id=ins.customer_id,
            conversation_id=f"engagement-{ins.customer_id}",
            message_event_id=ins.event_id,
            text="",
            channel="email",
            intent="engagement",
            kind="engagement",
            occurred_at=ins.occurred_at,
            priority="high",
            segment=context.get("segment"),
            churn_risk=context["churn"],
            reason="churn_risk_rising",
        )


def _turn(turn: dict[str, Any], text: str) -> ConversationTurn:
    return ConversationTurn(
        role=turn["role"], text=text, at=datetime.fromtimestamp(turn["at"], UTC)
    )


def register(runtime: Runtime, intents: IntentModel | None = None) -> ReplyRequests:
    app, settings = runtime.app, runtime.settings
    conversations = runtime.table("reply-conversations")
    customers = runtime.table("reply-customers")
    agent = ReplyRequests(runtime, conversations, customers, intents)

    async def reply_requests_agent(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.batch_max_events, settings.batch_linger_s):
            for event in batch:
                if is_example(event.message.key):
                    continue  # the scoring stage's shared labels (schemas.examples)
                use(event)  # the conversations table's changelog goes to its partition
                await agent.handle(event.value, event.message.partition)

    async def engagement_agent(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.batch_max_events, settings.batch_linger_s):
            for event in batch:
                use(event)
                await agent.insight(event.value)

    app.agent(runtime.topics["events"], name=AGENT)(reply_requests_agent)
    app.agent(runtime.topics["insights"], name=ENGAGE_AGENT)(engagement_agent)
    app.task(agent.declare)
    return agent
