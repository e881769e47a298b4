"""Redis state of reply drafting: one LLM call per message id, the draft cache, the
per-conversation view, feedback counts and erasure.

Keys, all under ``{prefix}drafts:`` and expiring after ``ttl_s`` (except the erasure
markers, kept for good: a replay of an erased customer's messages may come any time):

- ``claim:{request_id}``: set once (``SET NX``) by the worker that calls the LLM; it
  outlives the call, so a replay or another worker never calls again;
- ``lease:{request_id}``: the claimant is alive; it expires ``lease_s`` after the
  claim (the request's deadline plus a margin) or is deleted with the result;
- ``result:{request_id}``: the draft and the redacted prompt that produced it;
- ``pii:{request_id}``: the values behind the placeholders of a reply request's
  redacted texts (``reply-requests`` carries only placeholders), for the drafter;
- ``published:{request_id}``: the draft reached the drafted-replies topic;
- ``conv:{conversation_id}``: hash draft_id -> draft (with the inbound message it
  answers, redacted as on ``reply-requests``), for the HTTP view and the console, and
  ``verdicts:{conversation_id}``: draft_id -> reviewer's verdict;
- ``queue``: sorted set conversation_id -> time of the inbound message its latest
  draft answers (the console's queue, newest first); each saved draft is also
  published on the channel ``live`` (pushed to open consoles);
- ``cust:{customer_id}``: ``request_id|conversation_id`` of each cached draft, and
  ``erased:{customer_id}``: the erasure time (epoch seconds);
- ``shots:{customer_id}``: the customer's last ``SHOTS_MAX`` messages with the replies
  reviewers edited and sent for them (newest first), examples for that customer's
  later prompts; deleted with the customer;
- ``stats:feedback``: hash ``model|prompt_version|verdict`` -> count; ``fb:{event_id}``
  counts each feedback event once.

>>> DraftStore("redis://127.0.0.1:6379/0", "t:", 60).key("claim", "m1")
't:drafts:claim:m1'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.core.errors import RapportError

log = logging.getLogger(__name__)
ClaimState = Literal["mine", "live", "orphaned"]

_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
return 0
"""
_STATES: dict[int, ClaimState] = {1: "mine", 2: "live", 0: "orphaned"}


QUEUE_MAX = 10_000  # conversations indexed for the console's queue
SHOTS_MAX = 3  # edited replies kept per customer as prompt examples


def _epoch(created_at: str) -> float:
    return datetime.fromisoformat(created_at).timestamp()


def _reviewed(drafts: dict[bytes, bytes], verdicts: dict[bytes, bytes]) -> list[dict[str, Any]]:
    """A conversation's stored drafts, oldest first, each with its verdict."""
    verdict = {k.decode(): v.decode() for k, v in verdicts.items()}
    out = [orjson.loads(raw) for raw in drafts.values()]
    for draft in out:
        draft["review"] = verdict.get(draft["draft_id"], "pending")
    # in the order of the messages they answer: drafts are written concurrently
    return sorted(out, key=lambda d: (d.get("message_at") or d["created_at"], d["draft_id"]))


class DraftStoreError(RapportError):
    """Redis refused or could not be reached; the message names the operation."""


@dataclass(frozen=True)
class Cached:
    draft: dict[str, Any]
    prompt: str
    published: bool


class DraftStore:
    def __init__(self, url: str, prefix: str, ttl_s: int) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._client: aioredis.Redis | None = None

    def key(self, kind: str, ident: str) -> str:
        return f"{self.prefix}drafts:{kind}:{ident}"

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=3.0, socket_connect_timeout=2.0
            )
        return self._client

    async def _run(self, what: str, pipe: Any) -> list[Any]:
        try:
            return list(await pipe.execute())
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis {what} failed: {exc}") from exc

    async def cached(self, request_id: str) -> Cached | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.key("result", request_id))
        pipe.exists(self.key("published", request_id))
        raw, published = await self._run("read of a cached draft", pipe)
        if raw is None:
            return None
        record = orjson.loads(raw)
        return Cached(record["draft"], record["prompt"], bool(published))

    async def claim(self, request_id: str, token: str, lease_s: float) -> ClaimState:
        """Claim the one LLM call of ``request_id``, or say who holds it."""
        keys = [self.key("claim", request_id), self.key("lease", request_id)]
        try:
            state = await self.client.eval(
                _CLAIM, 2, *keys, token, str(self.ttl_s), str(max(1, int(lease_s + 0.999)))
            )
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis claim failed: {exc}") from exc
        return _STATES[int(state)]

    async def lease_alive(self, request_id: str) -> bool:
        try:
            return bool(await self.client.exists(self.key("lease", request_id)))
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis lease check failed: {exc}") from exc

    @property
    def channel(self) -> str:
        return f"{self.prefix}drafts:live"

    async def save(
        self, draft: dict[str, Any], prompt: str, message: str = "", message_at: str = ""
    ) -> None:
        """Cache the draft and its redacted prompt, index it, release the lease; the
        conversation view keeps the (redacted) inbound ``message`` and its time beside
        the draft."""
        rid, conv = draft["request_id"], draft["conversation_id"]
        record = orjson.dumps({"draft": draft, "prompt": prompt})
        at = message_at or draft["created_at"]
        shown = orjson.dumps({**draft, "message": message, "message_at": at})
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self.key("result", rid), record, ex=self.ttl_s)
        pipe.hset(self.key("conv", conv), draft["draft_id"], shown)
        pipe.expire(self.key("conv", conv), self.ttl_s)
        pipe.zadd(self.queue_key, {conv: _epoch(at)})
        pipe.zremrangebyrank(self.queue_key, 0, -QUEUE_MAX - 1)
        pipe.publish(self.channel, shown)
        pipe.sadd(self.key("cust", draft["customer_id"]), f"{rid}|{conv}")
        pipe.expire(self.key("cust", draft["customer_id"]), self.ttl_s)
        pipe.delete(self.key("lease", rid))
        await self._run("write of a draft", pipe)

    @property
    def queue_key(self) -> str:
        return f"{self.prefix}drafts:queue"

    async def queue(self, limit: int = 50) -> list[dict[str, Any]]:
        """Conversations whose latest draft awaits review, newest first: that draft."""
        try:
            convs = await self.client.zrevrange(self.queue_key, 0, 4 * limit - 1)
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis read of the queue failed: {exc}") from exc
        ids = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in convs]
        waiting = [
            d[-1] for d in await self.conversations(ids) if d and d[-1]["review"] == "pending"
        ]
        return waiting[:limit]

    async def draft(self, draft_id: str) -> dict[str, Any] | None:
        """One draft as the console shows it (None when unknown, expired or erased)."""
        cached = await self.cached(draft_id.removeprefix("draft-"))
        if cached is None:
            return None
        drafts = await self.conversation(str(cached.draft["conversation_id"]))
        return next((d for d in drafts if d["draft_id"] == draft_id), None)

    async def keep_values(self, request_id: str, customer_id: str, values: dict[str, str]) -> None:
        """Keep what a reply request's placeholders stand for, indexed for erasure."""
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self.key("pii", request_id), orjson.dumps(values), ex=self.ttl_s)
        pipe.sadd(self.key("cust", customer_id), f"{request_id}|")
        pipe.expire(self.key("cust", customer_id), self.ttl_s)
        await self._run("write of a request's placeholder values", pipe)

    async def values(self, request_id: str) -> dict[str, str]:
        """What the request's placeholders stand for (none once erased or expired)."""
        try:
            raw = await self.client.get(self.key("pii", request_id))
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis read of placeholder values failed: {exc}") from exc
        return {} if raw is None else {str(k): str(v) for k, v in orjson.loads(raw).items()}

    async def mark_published(self, request_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key("published", request_id), b"1", ex=self.ttl_s)
        await self._run("publish mark", pipe)

    async def conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        """Drafts of a conversation in the order of the messages they answer, each with
        its review verdict."""
        return (await self.conversations([conversation_id]))[0]

    async def conversations(self, ids: list[str]) -> list[list[dict[str, Any]]]:
        """:meth:`conversation` of each id, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for conversation_id in ids:
            pipe.hgetall(self.key("conv", conversation_id))
            pipe.hgetall(self.key("verdicts", conversation_id))
        found = await self._run("read of conversations' drafts", pipe)
        return [_reviewed(d, v) for d, v in zip(found[::2], found[1::2], strict=True)]

    async def feedback(self, event_id: str, draft_id: str, verdict: str) -> tuple[str, str] | None:
        """Count one feedback event once: ``(model, prompt_version)``, None if seen."""
        client = self.client
        try:
            first = await client.set(self.key("fb", event_id), b"1", nx=True, ex=self.ttl_s)
            if not first:
                return None
            raw = await client.get(self.key("result", draft_id.removeprefix("draft-")))
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis feedback read failed: {exc}") from exc
        draft = orjson.loads(raw)["draft"] if raw else {}
        labels = (str(draft.get("model", "unknown")), str(draft.get("prompt_version", "unknown")))
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(self.key("stats", "feedback"), "|".join((*labels, verdict)), 1)
        if draft:
            verdicts = self.key("verdicts", draft["conversation_id"])
            pipe.hset(verdicts, draft_id, verdict)
            pipe.expire(verdicts, self.ttl_s)
        await self._run("feedback count", pipe)
        return labels

    async def keep_shot(self, customer_id: str, message: str, reply: str) -> None:
        """Keep a reviewer's edited reply to one of the customer's messages."""
        key = self.key("shots", customer_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(key, orjson.dumps([message, reply]))
        pipe.ltrim(key, 0, SHOTS_MAX - 1)
        pipe.expire(key, self.ttl_s)
        await self._run("write of an edited reply", pipe)

    async def shots(self, customer_id: str) -> list[tuple[str, str]]:
        """The customer's kept ``(message, edited reply)`` pairs, newest first."""
        pipe = self.client.pipeline(transaction=False)
        pipe.lrange(self.key("shots", customer_id), 0, SHOTS_MAX - 1)
        (raw,) = await self._run("read of edited replies", pipe)
        return [(str(q), str(a)) for q, a in (orjson.loads(item) for item in raw)]

    async def feedback_counts(self) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.key("stats", "feedback"))
        (raw,) = await self._run("read of feedback counts", pipe)
        return {k.decode(): int(v) for k, v in raw.items()}

    async def erase(self, customer_id: str, at: float) -> int:
        """Purge the customer's cached drafts and prompts; remember the erasure time.

        Claims stay (they hold no personal data) so a replay never calls the LLM again.
        """
        cust = self.key("cust", customer_id)
        try:
            raw = await self.client.smembers(cust)
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis erasure read failed: {exc}") from exc
        members = [m.decode() if isinstance(m, bytes) else str(m) for m in raw]
        pipe = self.client.pipeline(transaction=True)
        for member in members:
            rid, _, conv = member.partition("|")
            pipe.delete(self.key("result", rid), self.key("pii", rid))
            pipe.hdel(self.key("conv", conv), f"draft-{rid}")
            pipe.hdel(self.key("verdicts", conv), f"draft-{rid}")
            if conv:
                pipe.zrem(self.queue_key, conv)
        pipe.delete(cust, self.key("shots", customer_id))
        pipe.set(self.key("erased", customer_id), repr(at))  # kept: replays come later
        await self._run("erasure", pipe)
        return len(members)

    async def erased_at(self, customer_id: str) -> float | None:
        try:
            raw = await self.client.get(self.key("erased", customer_id))
        except (RedisError, OSError) as exc:
            raise DraftStoreError(f"Redis erasure check failed: {exc}") from exc
        return None if raw is None else float(raw)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
