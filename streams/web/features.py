"""``GET /customers/{customer_id}/features`` on every worker.

Answered from the table by the worker that owns the customer's partition: a
worker that does not own it forwards the request there (Faust's router knows the
owner). The table answer is current: it reflects every event applied so far
(``source: "table"``, with the last applied ``events`` offset). When the owner
cannot be reached (a rebalance, or the owner is down) the answer comes from Redis
(``source: "redis"``), stating when it was written and its age: Redis trails the
table by at most one flush interval while the owner runs.

Unknown customers (never seen, or erased) get a 404 with a JSON body; a malformed
id a 400; no table and no Redis a 503.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import orjson
from faust.web import Request, Response, View
from yarl import URL

from features.definitions import Vector
from features.state import CustomerState
from features.store import FeatureStore, FeatureStoreError
from streams.core.runtime import Runtime, tables_ready

log = logging.getLogger(__name__)
PATH = "/customers/{customer_id}/features"
ID = re.compile(r"^[A-Za-z0-9._:@\-/+=]{1,128}$")
PROXY_TIMEOUT_S = 3.0


class FeatureSource(Protocol):
    """What the view needs from the feature agent."""

    @property
    def store(self) -> FeatureStore: ...

    @property
    def settings(self) -> Any: ...

    def owns(self, customer_id: str) -> bool: ...

    def owner(self, customer_id: str) -> str | None: ...

    def local_features(self, customer_id: str) -> tuple[Vector, CustomerState] | None: ...


def not_found(customer_id: str) -> dict[str, Any]:
    return {
        "error": "unknown_customer",
        "customer_id": customer_id,
        "detail": f"no features for customer {customer_id!r}: never seen, or erased",
    }


def table_body(
    customer_id: str, features: Vector, state: CustomerState, here: str
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "source": "table",
        "served_by": here,
        "as_of": features["last_seen"],
        "freshness": f"current: every event applied up to events partition "
        f"{state.partition} offset {state.offset}",
        "partition": state.partition,
        "offset": state.offset,
        "features": features,
    }


async def redis_answer(
    source: FeatureSource, customer_id: str, here: str
) -> tuple[int, dict[str, Any]]:
    try:
        stored = await source.store.read(customer_id)
    except FeatureStoreError as exc:
        return 503, {
            "error": "unavailable",
            "customer_id": customer_id,
            "detail": f"the owning worker is unreachable and {exc}",
        }
    if stored is None:
        return 404, not_found(customer_id)
    flush = source.settings.features_flush_interval_s
    return 200, {
        "customer_id": customer_id,
        "source": "redis",
        "served_by": here,
        "as_of": stored.as_of,
        "written_at": datetime.fromtimestamp(stored.written_at, UTC).isoformat(),
        "age_s": round(stored.age_s(), 3),
        "freshness": f"Redis copy written {stored.age_s():.1f}s ago; it trails the table "
        f"by at most {flush}s while the owning worker runs",
        "partition": stored.partition,
        "offset": stored.offset,
        "features": stored.features,
    }


def _same(url: URL, here: URL) -> bool:
    return (url.host, url.port) == (here.host, here.port)


async def _proxy(
    app: Any, owner: URL, customer_id: str, authorization: str | None
) -> tuple[int, bytes] | None:
    url = owner.with_path(PATH.format(customer_id=customer_id)).with_query(routed="1")
    headers = {"Authorization": authorization} if authorization else None
    try:
        timeout = aiohttp.ClientTimeout(total=PROXY_TIMEOUT_S)
        async with app.http_client.get(url, timeout=timeout, headers=headers) as resp:
            return resp.status, await resp.read()
    except Exception as exc:
        log.info(
            "features: owner %s of %s unreachable (%r); answering from Redis",
            owner,
            customer_id,
            exc,
        )
        return None


async def answer(
    app: Any,
    source: FeatureSource,
    customer_id: str,
    routed: bool,
    authorization: str | None = None,
) -> tuple[int, bytes]:
    """(status, JSON body) for one request."""
    here = URL(str(app.conf.canonical_url))
    if not ID.match(customer_id):
        return 400, orjson.dumps(
            {
                "error": "bad_customer_id",
                "customer_id": customer_id,
                "detail": "customer ids are 1-128 of A-Z a-z 0-9 ._:@-/+=",
            }
        )
    ready = tables_ready(app)
    if ready and source.owns(customer_id):
        found = source.local_features(customer_id)
        if found is None:
            return 404, orjson.dumps(not_found(customer_id))
        return 200, orjson.dumps(table_body(customer_id, *found, str(here)))
    if ready and not routed:
        try:
            url = source.owner(customer_id)
        except Exception:
            url = None  # no assignment metadata yet
        owner = None if url is None else URL(url)
        if owner is not None and not _same(owner, here):
            proxied = await _proxy(app, owner, customer_id, authorization)
            if proxied is not None and proxied[0] != 503:
                return proxied
    status, body = await redis_answer(source, customer_id, str(here))
    return status, orjson.dumps(body)


def register(runtime: Runtime, source: FeatureSource) -> None:
    app = runtime.app

    @app.page(PATH)
    class CustomerFeatures(View):
        async def get(self, request: Request, customer_id: str) -> Response:
            routed = request.query.get("routed") == "1"
            authorization = request.headers.get("Authorization")  # the owner checks it too
            status, body = await answer(app, source, customer_id, routed, authorization)
            return self.bytes(body, content_type="application/json", status=status)
