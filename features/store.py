"""The online feature store: one Redis hash per customer, written in pipelined batches.

Key ``{prefix}features:{customer_id}``; one field per feature holding its JSON
value (``3``, ``12.5``, ``"2024-01-01T00:00:00+00:00"``), plus metadata fields
starting with ``_``: ``_as_of`` (the customer's watermark: the event time the
features are current to), ``_written_at`` (wall clock of the write, epoch
seconds) and ``_partition``/``_offset`` (the last applied ``events`` record).
The hash is sparse: a feature at its default (``DEFAULTS``: 0, or null when
undefined) has no field, and reads fill the defaults back in. A write replaces
the hash (``DEL`` + ``HSET`` + ``EXPIRE``, all rows of a flush in one
``MULTI``/``EXEC``: readers never see a half-written hash) and renews the TTL;
an erasure deletes it.

>>> FeatureStore("redis://127.0.0.1:6379/0", "t:", 60).key("c1")
't:features:c1'
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from features.definitions import DEFAULTS, Feature, Vector
from streams.core.errors import RapportError

META = ("_as_of", "_written_at", "_partition", "_offset")


class FeatureStoreError(RapportError):
    """Redis refused or could not be reached; the message says which operation."""


@dataclass(frozen=True, slots=True)
class Row:
    """One customer's features to write, with the record they are current to."""

    customer_id: str
    features: Vector
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Stored:
    """A customer's features as read back from Redis, with their freshness."""

    customer_id: str
    features: Vector
    as_of: str
    written_at: float
    partition: int
    offset: int

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.written_at)


class FeatureStore:
    """Async Redis access for the worker's flush, the HTTP fallback and the CLI."""

    def __init__(self, url: str, prefix: str, ttl_s: int) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._client: aioredis.Redis | None = None

    def key(self, customer_id: str) -> str:
        return f"{self.prefix}features:{customer_id}"

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=5.0, socket_connect_timeout=3.0
            )
        return self._client

    async def write(self, rows: Sequence[Row], deletes: Iterable[str] = ()) -> None:
        """Write ``rows`` and delete ``deletes`` in one pipeline (one round trip)."""
        now = repr(time.time())
        pipe = self.client.pipeline(transaction=True)
        for row in rows:
            key = self.key(row.customer_id)
            mapping = sparse(row.features)
            mapping.update(
                _as_of=str(row.features.get("last_seen")),
                _written_at=now,
                _partition=str(row.partition),
                _offset=str(row.offset),
            )
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, self.ttl_s)
        for customer_id in deletes:
            pipe.delete(self.key(customer_id))
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise FeatureStoreError(
                f"Redis write of {len(rows)} feature hashes at {_where(self.url)} failed: {exc}"
            ) from exc

    async def read(self, customer_id: str) -> Stored | None:
        return (await self.read_many([customer_id]))[customer_id]

    async def read_many(self, customer_ids: Sequence[str]) -> dict[str, Stored | None]:
        pipe = self.client.pipeline(transaction=False)
        for customer_id in customer_ids:
            pipe.hgetall(self.key(customer_id))
        try:
            hashes = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise FeatureStoreError(f"Redis read at {_where(self.url)} failed: {exc}") from exc
        return {cid: _decode(cid, raw) for cid, raw in zip(customer_ids, hashes, strict=True)}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def sparse(features: Vector) -> dict[str, bytes | str]:
    """The fields to store: every feature not at its default, as JSON.

    >>> sparse({"events": 2, "orders_all": 0, "order_amount_all": 0.0, "rfm_score": None})
    {'events': '2'}
    """
    out: dict[str, bytes | str] = {}
    for name, value in features.items():
        default = DEFAULTS.get(name, ...)
        if value != default or type(value) is not type(default):
            out[name] = json_value(value)
    return out


def json_value(value: Feature) -> str | bytes:
    """A feature as JSON text (``str``/``repr`` are much cheaper than a call per number).

    >>> [json_value(v) for v in (3, 0.1, None, "a")]
    ['3', '0.1', 'null', b'"a"']
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    if value is None:
        return "null"
    return orjson.dumps(value)


def _decode(customer_id: str, raw: dict[bytes, bytes]) -> Stored | None:
    if not raw:
        return None
    fields = {k.decode(): v for k, v in raw.items()}
    features: dict[str, Any] = dict(DEFAULTS)
    features.update(
        (name, orjson.loads(value)) for name, value in fields.items() if not name.startswith("_")
    )
    return Stored(
        customer_id=customer_id,
        features=features,
        as_of=fields["_as_of"].decode(),
        written_at=float(fields["_written_at"]),
        partition=int(fields["_partition"]),
        offset=int(fields["_offset"]),
    )


def _where(url: str) -> str:
    """The URL without credentials, for error messages."""
    return url.rsplit("@", 1)[-1]
