"""``GET /conversations/{conversation_id}/drafts`` and ``GET /drafts/feedback``.

Drafts are suggestions for a human: every one is ``pending_review``; ``review`` says
whether a reviewer has accepted, edited or rejected it yet (``pending`` until then).
Any worker answers, from Redis: drafts oldest first, with model, prompt version,
flags and ``fallback``. An unknown or erased conversation gets an empty list; a
malformed id a 400; Redis unreachable a 503. ``/drafts/feedback`` gives the verdict
counts per ``model|prompt_version|verdict``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from faust.web import Request, Response, View

from agents.drafting.store import DraftStore, DraftStoreError
from streams.core.runtime import Runtime

PATH = "/conversations/{conversation_id}/drafts"
ID = re.compile(r"^[A-Za-z0-9._:@\-/+=]{1,128}$")


async def answer(store: DraftStore, conversation_id: str) -> tuple[int, dict[str, Any]]:
    if not ID.match(conversation_id):
        return 400, {
            "error": "bad_conversation_id",
            "conversation_id": conversation_id,
            "detail": "conversation ids are 1-128 of A-Z a-z 0-9 ._:@-/+=",
        }
    try:
        drafts = await store.conversation(conversation_id)
    except DraftStoreError as exc:
        return 503, {"error": "unavailable", "detail": str(exc)}
    pending = sum(1 for d in drafts if d.get("review") == "pending")
    return 200, {"conversation_id": conversation_id, "pending": pending, "drafts": drafts}


def register(runtime: Runtime) -> DraftStore:
    app, s = runtime.app, runtime.settings
    store = DraftStore(s.redis_url.get_secret_value(), s.redis_key_prefix, s.drafting_claim_ttl_s)

    @app.page(PATH)
    class ConversationDrafts(View):
        async def get(self, request: Request, conversation_id: str) -> Response:
            status, body = await answer(store, conversation_id)
            return self.bytes(orjson.dumps(body), content_type="application/json", status=status)

    @app.page("/drafts/feedback")
    class DraftFeedbackCounts(View):
        async def get(self, request: Request) -> Response:
            try:
                counts = await store.feedback_counts()
            except DraftStoreError as exc:
                body = orjson.dumps({"error": "unavailable", "detail": str(exc)})
                return self.bytes(body, content_type="application/json", status=503)
            return self.bytes(orjson.dumps({"counts": counts}), content_type="application/json")

    return store
