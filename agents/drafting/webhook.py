"""Drafts pushed to a helpdesk without a Kafka client: every record of
``drafted-replies`` POSTed to ``RAPPORT_DRAFTING_WEBHOOK_URL``.

A consumer group of its own (``{app id}-webhook``), run as a task in each worker that
drafts: partitions are shared among the workers, and the webhook never holds up an
agent. Each record is delivered in order; its offset is committed once the receiver
answered 2xx (or it was dead-lettered). The body is the record's JSON as published; headers:

- ``X-Rapport-Signature: sha256=<hex>``: HMAC-SHA256 under
  ``RAPPORT_DRAFTING_WEBHOOK_SECRET`` of ``{timestamp}.{body}``;
- ``X-Rapport-Timestamp`` (epoch seconds, for the receiver's replay window) and
  ``X-Rapport-Draft-Id`` (the receiver's idempotency key).

Retries: connection errors, timeouts, 408, 429 and 5xx again with doubling waits (up to
``RAPPORT_DRAFTING_WEBHOOK_BACKOFF_MAX_S``); a receiver down for minutes gets every draft
once it is back. A draft not delivered within ``RAPPORT_DRAFTING_WEBHOOK_GIVE_UP_S``, or
refused with another 4xx, goes to the dead-letter topic (``webhook_undeliverable``,
``rapport_webhook_deliveries_total{outcome="dead_letter"}``). A delivered draft is marked
in Redis (``{prefix}webhook:sent:{draft_id}``) before its offset is committed, so a
record read again after a crash or a rebalance is not sent twice; only a crash between
the receiver's 2xx and that mark sends it again (with the same draft id). Offsets are
committed once per fetched batch, after every record of it was handled.

>>> sign(b"k", b'{"a":1}', 1700000000)
'sha256=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3'
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import Counter
from redis.exceptions import RedisError

from schemas.published import DeadLetter
from streams.core.kafka_client import client_options
from streams.core.runtime import Runtime

log = logging.getLogger(__name__)
DELIVERIES = Counter(
    "rapport_webhook_deliveries_total",
    "Drafted replies pushed to the webhook, by outcome (delivered, retried, dead_letter, "
    "already_sent)",
    ["outcome"],
)
RETRIED = {408, 429}


def sign(key: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class Webhook:
    def __init__(self, runtime: Runtime) -> None:
        s = runtime.settings
        assert s.drafting_webhook_url and s.drafting_webhook_secret  # the settings check it
        self.settings = s
        self.url = s.drafting_webhook_url
        self.key = s.drafting_webhook_secret.get_secret_value().encode()
        self.topic = s.topic_name("drafted_replies")
        self.dlq = s.topic_name("dlq")
        self.group = f"{s.app_id}-webhook"
        self.redis = aioredis.Redis.from_url(
            s.redis_url.get_secret_value(), socket_timeout=3.0, socket_connect_timeout=2.0
        )
        self.sent_ttl_s = s.drafting_claim_ttl_s

    def sent_key(self, draft_id: str) -> str:
        return f"{self.settings.redis_key_prefix}webhook:sent:{draft_id}"

    async def run(self) -> None:
        """Deliver until the worker stops."""
        options = client_options(self.settings)
        consumer = AIOKafkaConsumer(
            self.topic,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **options,
        )
        producer = AIOKafkaProducer(acks="all", **options)
        await consumer.start()
        await producer.start()
        try:
            async with aiohttp.ClientSession() as http:
                while True:
                    batch = await consumer.getmany(timeout_ms=1000, max_records=100)
                    for records in batch.values():
                        for record in records:
                            await self._one(http, producer, record)
                    if batch:  # each delivered (or dead-lettered) and marked: one commit
                        await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items()})
        finally:
            await consumer.stop()
            await producer.stop()
            await self.redis.aclose()

    async def _one(
        self, http: aiohttp.ClientSession, producer: AIOKafkaProducer, record: Any
    ) -> None:
        body: bytes = record.value or b""
        try:
            draft_id = str(orjson.loads(body)["draft_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await self._dead_letter(producer, record, "not a drafted reply (no draft_id)")
            return
        if await self._already_sent(draft_id):
            DELIVERIES.labels("already_sent").inc()
            return
        refused = await self._deliver(http, body, draft_id)
        if refused is not None:
            await self._dead_letter(producer, record, refused)
            return
        DELIVERIES.labels("delivered").inc()
        await self._mark_sent(draft_id)

    async def _deliver(self, http: aiohttp.ClientSession, body: bytes, draft_id: str) -> str | None:
        """POST until a 2xx (None) or a reason to give up."""
        s = self.settings
        give_up = time.monotonic() + s.drafting_webhook_give_up_s
        wait = 0.5
        while True:
            now = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "X-Rapport-Signature": sign(self.key, body, now),
                "X-Rapport-Timestamp": str(now),
                "X-Rapport-Draft-Id": draft_id,
            }
            try:
                timeout = aiohttp.ClientTimeout(total=s.drafting_webhook_timeout_s)
                async with http.post(self.url, data=body, headers=headers, timeout=timeout) as r:
                    status = r.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, why = 0, f"{type(exc).__name__}: {exc}"
            else:
                why = f"HTTP {status}"
            if 200 <= status < 300:
                return None
            if 400 <= status < 500 and status not in RETRIED:
                return f"the webhook refused draft {draft_id}: {why}"
            if time.monotonic() + wait > give_up:
                return (
                    f"draft {draft_id} undelivered for {s.drafting_webhook_give_up_s:.0f}s: {why}"
                )
            DELIVERIES.labels("retried").inc()
            log.info("webhook: draft %s not delivered (%s); again in %.1fs", draft_id, why, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, s.drafting_webhook_backoff_max_s)

    async def _already_sent(self, draft_id: str) -> bool:
        while True:
            try:
                return bool(await self.redis.exists(self.sent_key(draft_id)))
            except (RedisError, OSError) as exc:  # without the mark a resend could double
                log.warning("webhook: Redis unavailable (%s); waiting", exc)
                await asyncio.sleep(1.0)

    async def _mark_sent(self, draft_id: str) -> None:
        while True:
            try:
                await self.redis.set(self.sent_key(draft_id), b"1", ex=self.sent_ttl_s)
                return
            except (RedisError, OSError) as exc:
                log.warning("webhook: Redis unavailable (%s); waiting", exc)
                await asyncio.sleep(1.0)

    async def _dead_letter(self, producer: AIOKafkaProducer, record: Any, reason: str) -> None:
        DELIVERIES.labels("dead_letter").inc()
        log.warning("webhook: %s (dead-lettered)", reason)
        letter = DeadLetter.build(
            raw=record.value or b"",
            key=record.key,
            reason=reason,
            reason_code="webhook_undeliverable",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            now=datetime.now(UTC),
        )
        await producer.send_and_wait(self.dlq, letter.model_dump_json().encode(), key=record.key)


def register(runtime: Runtime) -> Webhook | None:
    """Start the webhook's delivery task with the worker (when a URL is set)."""
    if not runtime.settings.drafting_webhook_url:
        return None
    webhook = Webhook(runtime)

    async def deliver_drafts() -> None:
        await webhook.run()

    runtime.app.task(deliver_drafts)
    return webhook
