"""The Redis feature store on the real Redis: sparse hashes, TTL, reads, deletes."""

from __future__ import annotations

from features.definitions import DEFAULTS, Vector
from features.store import FeatureStore, Row
from streams.core.settings import Settings
from tests.integration.conftest import Scope


def features(k: int) -> Vector:
    return {
        **DEFAULTS,
        "events": k,
        "rating_mean_all": k / 3,
        "orders_all": 0,
        "first_seen": "2024-01-01T00:00:00+00:00",
        "last_seen": "2024-01-02T00:00:00+00:00",
    }


async def test_write_read_delete_with_ttl(scope: Scope, stack: Settings) -> None:
    settings = scope.settings()
    store = FeatureStore(settings.redis_url.get_secret_value(), settings.redis_key_prefix, 120)
    try:
        await store.write([Row(f"c{k}", features(k), 2, 100 + k) for k in range(1, 50)])
        got = await store.read_many([f"c{k}" for k in range(1, 51)])
        assert got["c50"] is None
        c7 = got["c7"]
        assert c7 is not None
        assert c7.features == features(7) and list(c7.features) == list(DEFAULTS)
        assert (c7.partition, c7.offset, c7.as_of) == (2, 107, "2024-01-02T00:00:00+00:00")
        assert 0 <= c7.age_s() < 10
        fields = await store.client.hkeys(store.key("c7"))
        assert sorted(f if isinstance(f, str) else f.decode() for f in fields) == [
            "_as_of",
            "_offset",
            "_partition",
            "_written_at",
            "events",
            "first_seen",
            "last_seen",
            "rating_mean_all",
        ], "features at their default are not stored"
        assert 100 < await store.client.ttl(store.key("c7")) <= 120

        back_to_default = {**features(7), "rating_mean_all": None}
        await store.write([Row("c7", back_to_default, 2, 200)], deletes=["c8", "c9"])
        again = await store.read("c7")
        assert again is not None and again.features == back_to_default and again.offset == 200
        assert not await store.client.hexists(store.key("c7"), "rating_mean_all")
        assert await store.read("c8") is None and await store.read("c9") is None
        await store.write([], deletes=[f"c{k}" for k in range(50)])
        assert await store.read("c1") is None
    finally:
        await store.close()
