"""Who answers ``GET /customers/{id}/features``: the owner's table, a forward to the owner,
or Redis with its freshness; 400/404/503 with JSON bodies."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from features.definitions import Rules, Vector
from features.engine import FeatureEngine
from features.state import CustomerState
from features.store import FeatureStore, FeatureStoreError, Stored
from features.vector import vector
from streams.web.features import answer
from tests.support.features import at, make_event

HERE, THERE = "http://127.0.0.1:7001", "http://127.0.0.1:7002"


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self.body


class HttpClient:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.urls: list[str] = []
        self.headers: list[dict[str, str] | None] = []

    def get(self, url: Any, timeout: Any, headers: dict[str, str] | None = None) -> Response:
        self.urls.append(str(url))
        self.headers.append(headers)
        if self.fail:
            raise OSError("connection refused")
        return Response(200, b'{"source": "table", "served_by": "' + THERE.encode() + b'"}')


class Store(FeatureStore):
    def __init__(self, stored: Stored | None = None, fail: bool = False) -> None:
        super().__init__("redis://unused", "t:", 60)
        self.stored, self.fail = stored, fail

    async def read_many(self, customer_ids: Sequence[str]) -> dict[str, Stored | None]:
        if self.fail:
            raise FeatureStoreError("Redis read failed: timeout")
        return {c: self.stored for c in customer_ids}


class Source:
    def __init__(self, owner: str, store: Store, known: bool = True) -> None:
        self._owner, self.store, self.known = owner, store, known
        self.settings = SimpleNamespace(features_flush_interval_s=0.5)
        self.engine = FeatureEngine({}, {}, Rules())
        self.engine.process(
            make_event(
                {
                    "type": "page_view",
                    "event_id": "e1",
                    "customer_id": "c1",
                    "occurred_at": at(5),
                    "source": "t",
                    "url": "/",
                }
            ),
            3,
            17,
        )

    def owns(self, customer_id: str) -> bool:
        return self._owner == HERE

    def owner(self, customer_id: str) -> str | None:
        return self._owner

    def local_features(self, customer_id: str) -> tuple[Vector, CustomerState] | None:
        state = self.engine.state(customer_id) if self.known else None
        return None if state is None else (vector(state, Rules()), state)


def app(ready: bool = True, fail: bool = False) -> Any:
    completed = SimpleNamespace(is_set=lambda: ready)
    return SimpleNamespace(
        conf=SimpleNamespace(canonical_url=HERE),
        rebalancing=False,
        tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)),
        http_client=HttpClient(fail),
    )


def stored() -> Stored:
    return Stored("c1", {"events": 4}, at(5), time.time() - 2.0, 3, 17)


async def ask(
    app_: Any,
    source: Source,
    customer: str = "c1",
    routed: bool = False,
    authorization: str | None = None,
) -> tuple[int, dict[str, Any]]:
    status, body = await answer(app_, source, customer, routed, authorization)
    return status, orjson.loads(body)


async def test_the_owner_answers_from_its_table() -> None:
    status, body = await ask(app(), Source(HERE, Store()))
    assert status == 200 and body["source"] == "table" and body["served_by"] == HERE
    assert (body["partition"], body["offset"], body["features"]["page_views_all"]) == (3, 17, 1)
    assert "offset 17" in body["freshness"]


async def test_unknown_and_malformed_customers() -> None:
    status, body = await ask(app(), Source(HERE, Store(), known=False))
    assert status == 404 and body["error"] == "unknown_customer" and "erased" in body["detail"]
    status, body = await ask(app(), Source(HERE, Store()), customer="a b")
    assert status == 400 and body["error"] == "bad_customer_id"


async def test_other_workers_forward_to_the_owner() -> None:
    client = app()
    status, body = await ask(client, Source(THERE, Store()), authorization="Bearer t1")
    assert status == 200 and body["served_by"] == THERE
    assert client.http_client.urls == [f"{THERE}/customers/c1/features?routed=1"]
    # the caller's token goes along: the owner checks it too
    assert client.http_client.headers == [{"Authorization": "Bearer t1"}]


@pytest.mark.parametrize("case", ["owner down", "already routed", "recovering"])
async def test_redis_answers_with_its_freshness_when_the_table_cannot(case: str) -> None:
    client = app(ready=case != "recovering", fail=case == "owner down")
    status, body = await ask(
        client, Source(THERE, Store(stored())), routed=case == "already routed"
    )
    assert status == 200 and body["source"] == "redis"
    assert body["features"] == {"events": 4} and 1.5 < body["age_s"] < 10
    assert "trails the table by at most 0.5s" in body["freshness"]
    if case != "owner down":
        assert client.http_client.urls == []


async def test_redis_missing_or_down() -> None:
    status, body = await ask(app(fail=True), Source(THERE, Store(None)))
    assert status == 404 and body["error"] == "unknown_customer"
    status, body = await ask(app(fail=True), Source(THERE, Store(fail=True)))
    assert status == 503 and "Redis read failed" in body["detail"]
