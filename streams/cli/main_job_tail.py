"""The main job's live tail: the latest insights and drafted replies, read from their topics.

A thread runs its own event loop with a group-less consumer at the end of the
``insights`` and ``drafted-replies`` topics, so the live view shows what the engine
publishes while the replay runs (not only at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from streams.core.kafka_client import client_options
from streams.core.settings import Settings

KEEP = 3


def insight_line(record: dict[str, Any]) -> str:
    """One short line for an insight.

    >>> insight_line({"customer_id": "c1", "model": "churn", "prediction": 0.41234,
    ...               "confidence": 0.9})
    'c1  churn = 0.412 (conf 0.90)'
    """
    prediction = record.get("prediction")
    shown = f"{prediction:.3f}" if isinstance(prediction, float) else str(prediction)
    confidence = record.get("confidence")
    conf = f" (conf {confidence:.2f})" if isinstance(confidence, float) else ""
    return f"{record.get('customer_id')}  {record.get('model')} = {shown}{conf}"


def draft_line(record: dict[str, Any], width: int = 70) -> str:
    """One short line for a drafted reply.

    >>> draft_line({"customer_id": "c2", "text": "Hello,\\nsure", "fallback": True}, 10)
    'c2  [fallback] Hello, su…'
    """
    text = " ".join(str(record.get("text", "")).split())
    cut = text if len(text) <= width else text[: width - 1] + "…"
    tag = "[fallback] " if record.get("fallback") else ""
    return f"{record.get('customer_id')}  {tag}{cut}"


class Tail:
    """The last ``KEEP`` insights and drafts published since the tail started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.insights: deque[str] = deque(maxlen=KEEP)
        self.drafts: deque[str] = deque(maxlen=KEEP)
        self.insights_seen = 0
        self.drafts_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="main-job-tail", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _main(self) -> None:
        with contextlib.suppress(Exception):  # the tail is a view: it never fails the job
            asyncio.run(self._run())

    async def _run(self) -> None:
        insights = self.settings.topic_name("insights")
        drafts = self.settings.topic_name("drafted_replies")
        consumer = AIOKafkaConsumer(
            insights,
            drafts,
            **client_options(self.settings),
            group_id=None,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=300, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        self._add(tp.topic == insights, record.value)
        finally:
            await consumer.stop()

    def _add(self, is_insight: bool, value: bytes | None) -> None:
        try:
            record = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            return
        if not isinstance(record, dict):
            return
        if is_insight:
            self.insights_seen += 1
            self.insights.append(insight_line(record))
        else:
            self.drafts_seen += 1
            self.drafts.append(draft_line(record))
