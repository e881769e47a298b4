"""The drafting agent: ``reply-requests`` in, one draft (or one failure record) each out.

It runs with ``drafting_concurrency`` concurrent actors on its own topic, so LLM
latency never holds up ingest, features or scoring. Per request, in order:

1. a request of an erased customer (timed at or before the erasure) ends in a
   failure record without its payload;
2. a cached draft is re-published if it never reached the topic, else skipped;
3. the LLM call is claimed in Redis (``SET NX``): ``mine`` drafts with the LLM;
   ``live`` (another worker holds a live lease) waits for that worker's draft;
   ``orphaned`` (its claimant died mid-call) drafts from the template: one LLM call
   per message id, even across replays and restarts;
4. the draft is cached (with its redacted prompt), sent to ``drafted-replies`` and,
   once Kafka has it, marked published.

When Redis cannot be reached, a template draft is published (no LLM call without a
claim). No exception escapes: an unexpected error ends in a failure record on the
dead-letter topic (reason code ``draft_failed``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import faust
from mode import BaseSignalT
from pydantic import ValidationError

from agents.drafting import metrics as dm
from agents.drafting.build import build_drafter, request_of
from agents.drafting.llm.degrade import Degrader
from agents.drafting.llm.drafter import Mode, Outcome
from agents.drafting.store import DraftStore, DraftStoreError
from features.store import FeatureStore, FeatureStoreError
from schemas.published import DeadLetter, DraftedReply, ReplyRequest
from streams.core import metrics
from streams.core.runtime import Runtime

log = logging.getLogger(__name__)
AGENT = "drafting"
POLL_S = 0.25


class Drafting:
    def __init__(self, runtime: Runtime) -> None:
        s = self.settings = runtime.settings
        self.app = runtime.app
        self.drafted_name = s.topic_name("drafted_replies")
        self.dlq_topic = runtime.topics["dlq"]
        self.token = uuid.uuid4().hex
        self.store = DraftStore(
            s.redis_url.get_secret_value(), s.redis_key_prefix, s.drafting_claim_ttl_s
        )
        self.features = FeatureStore(
            s.redis_url.get_secret_value(), s.redis_key_prefix, s.features_redis_ttl_s
        )
        self.drafter = build_drafter(s)
        self.learn_edits = s.drafting_learn_edits
        self.degrader = Degrader(s.drafting_degrade_lag, s.drafting_recover_lag)
        self.lease_s = s.drafting_deadline_s + 10.0

    async def handle(self, event: faust.EventT[Any]) -> None:
        message = event.message
        metrics.EVENTS_IN.labels(AGENT).inc()
        try:
            await self._process(message)
        except Exception as exc:
            log.exception(
                "drafting failed on %s[%d]@%d", message.topic, message.partition, message.offset
            )
            await self._failure(message, "draft_failed", f"{type(exc).__name__}: {exc}")

    def _mode(self, message: faust.types.Message) -> Mode:
        try:
            high = self.app.consumer.highwater(message.tp)
        except Exception:
            high = None
        lag = 0 if high is None else int(high) - message.offset - 1
        mode = self.degrader.observe(message.partition, lag)
        dm.REQUEST_LAG.set(self.degrader.lag)
        dm.DRAFT_MODE.set(1 if mode == "cheap" else 0)
        return mode

    async def _process(self, message: faust.types.Message) -> None:
        mode = self._mode(message)
        try:
            req = ReplyRequest.model_validate_json(message.value or b"")
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            await self._failure(message, "invalid_reply_request", f"{where}: {first['msg']}")
            return
        try:
            erased = await self.store.erased_at(req.customer_id)
            if erased is not None and req.occurred_at.timestamp() <= erased:
                await self._failure(message, "customer_erased", "customer erased", keep=False)
                return
            if await self._replayed(req):
                return
            claim = await self.store.claim(req.request_id, self.token, self.lease_s)
        except DraftStoreError as exc:
            log.warning(
                "drafting %s without Redis (%s): template, no LLM call", req.request_id, exc
            )
            outcome = self.drafter.fallback(request_of(req, {}), ["claim_unavailable"], mode=mode)
            await self._send(draft_of(req, outcome))
            return
        state: str = claim
        if claim == "live":
            state = await self._wait_for_owner(req)
            if state == "done":
                return
        if state == "orphaned":
            dm.DRAFT_REPLAYS.labels("orphaned_claim").inc()
            outcome = self.drafter.fallback(
                request_of(req, {}), ["llm_call_interrupted"], mode=mode
            )
        else:
            features = await self._features(req.customer_id)
            values = await self.store.values(req.request_id)
            shots = await self._shots(req)
            outcome = await self.drafter.draft(request_of(req, features, values, shots), mode)
        await self._publish(req, outcome)

    async def _replayed(self, req: ReplyRequest) -> bool:
        cached = await self.store.cached(req.request_id)
        if cached is None:
            return False
        if cached.published:
            dm.DRAFT_REPLAYS.labels("already_published").inc()
        else:
            dm.DRAFT_REPLAYS.labels("republished").inc()
            await self._send(DraftedReply.model_validate(cached.draft))
            await self.store.mark_published(req.request_id)
        return True

    async def _wait_for_owner(self, req: ReplyRequest) -> str:
        """Another worker holds a live lease: wait for its draft, or for the lease to end."""
        deadline = time.monotonic() + self.lease_s
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            if await self.store.cached(req.request_id) is not None:
                dm.DRAFT_REPLAYS.labels("left_to_owner").inc()
                return "done"
            if not await self.store.lease_alive(req.request_id):
                return "done" if await self._replayed(req) else "orphaned"
        return "orphaned"

    async def _shots(self, req: ReplyRequest) -> list[tuple[str, str]]:
        """Replies reviewers edited for this customer before (none if Redis fails)."""
        if not self.learn_edits:
            return []
        try:
            return await self.store.shots(req.customer_id)
        except DraftStoreError as exc:
            log.info("drafting without the customer's edited replies (%s)", exc)
            return []

    async def _features(self, customer_id: str) -> dict[str, Any]:
        try:
            stored = await self.features.read(customer_id)
        except FeatureStoreError as exc:
            log.info("drafting without features (%s)", exc)
            return {}
        return dict(stored.features) if stored else {}

    async def _publish(self, req: ReplyRequest, outcome: Outcome) -> None:
        draft = draft_of(req, outcome)
        try:
            await self.store.save(
                draft.model_dump(mode="json"),
                outcome.sent_prompt,
                req.text,
                req.occurred_at.isoformat(),
            )
        except DraftStoreError as exc:  # the draft still goes out; only the cache is missing
            log.warning("draft %s not cached: %s", req.request_id, exc)
        await self._send(draft)
        metrics.DRAFT_STAGE.observe(metrics.since(req.occurred_at))
        try:
            await self.store.mark_published(req.request_id)
        except DraftStoreError as exc:
            log.warning("draft %s not marked published: %s", req.request_id, exc)
        dm.DRAFT_LATENCY.observe(outcome.latency_ms / 1000)
        dm.DRAFT_TOKENS.labels("prompt").inc(outcome.prompt_tokens)
        dm.DRAFT_TOKENS.labels("completion").inc(outcome.completion_tokens)
        dm.DRAFT_COST.inc(outcome.cost_usd)

    async def _send(self, draft: DraftedReply) -> None:
        """Send and wait until Kafka has it."""
        fut = await self.app.producer.send(
            self.drafted_name,
            draft.customer_id.encode(),
            draft.model_dump_json().encode(),
            None,
            None,
            None,
        )
        await fut
        dm.DRAFTS.labels("fallback" if draft.fallback else "llm", draft.mode).inc()
        for flag in draft.flags:
            dm.DRAFT_FLAGS.labels(flag).inc()
        metrics.EVENTS_OUT.labels(AGENT, "drafted_replies").inc()

    async def _failure(
        self, message: faust.types.Message, code: str, reason: str, *, keep: bool = True
    ) -> None:
        """The request's failure record: a dead letter (without payload unless ``keep``)."""
        dm.DRAFT_FAILURES.labels(code).inc()
        record = DeadLetter.build(
            raw=(message.value or b"") if keep else b"",
            key=message.key,
            reason=reason,
            reason_code=code,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            now=datetime.now(UTC),
        )
        try:
            await (
                await self.dlq_topic.send(key=message.key, value=record.model_dump_json().encode())
            )
        except Exception:
            metrics.DEAD_LETTER_FAILURES.inc()
            log.exception(
                "could not record the failure of %s[%d]@%d",
                message.topic,
                message.partition,
                message.offset,
            )


def draft_of(req: ReplyRequest, outcome: Outcome) -> DraftedReply:
    return DraftedReply(
        draft_id=f"draft-{req.request_id}",
        request_id=req.request_id,
        customer_id=req.customer_id,
        conversation_id=req.conversation_id,
        text=outcome.text,
        model=outcome.model,
        prompt_version=outcome.prompt_version,
        latency_ms=outcome.latency_ms,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        estimated_cost_usd=outcome.cost_usd,
        flags=list(outcome.flags),
        fallback=outcome.fallback,
        created_at=datetime.now(UTC),
        intent=req.intent,
        intent_source=req.intent_source,
        mode=outcome.mode,
        attempts=outcome.attempts,
        kind=req.kind,
    )


def register(runtime: Runtime) -> Drafting | None:
    if not runtime.settings.drafting_enabled:
        return None
    drafting = Drafting(runtime)
    requests_name = runtime.settings.topic_name("reply_requests")

    async def _revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kw: Any) -> None:
        revoked = args[0] if args else kw.get("revoked", set())
        drafting.degrader.forget({tp.partition for tp in revoked if tp.topic == requests_name})

    runtime.app.on_partitions_revoked.connect(_revoked)

    async def drafting_agent(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await drafting.handle(event)

    runtime.app.agent(
        runtime.topics["reply_requests"],
        name=AGENT,
        concurrency=runtime.settings.drafting_concurrency,
    )(drafting_agent)
    return drafting
