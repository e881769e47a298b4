"""Who writes a deployment's embedded analytics store (chDB), and where to ask it.

chDB is ClickHouse inside one process: N workers that each embed it keep N partial
databases, and ``rapport sql`` on any of them answers about 1/N of the data. So a worker
whose sink writes chDB holds a lease in Redis (``{prefix}chdb-writer:{deployment}``,
``deployment`` the app id without ``-sink``): the chDB path, the host and the worker's
URL, renewed every few seconds and expiring ``TTL_S`` after the writer stops. A second
writer of another store is refused at start with the fix; a restart of the same store
(same path on the same host, its holder's process gone, e.g. after a SIGKILL) takes its
lease back, while a second live process on the same path is refused. ``rapport sql``
reads the URL from the lease to find the store. A ClickHouse server DSN takes no lease:
every worker writes the same server.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from typing import Final

import orjson
import redis
from redis.exceptions import RedisError

from streams.core.errors import ConfigError
from streams.core.settings import Settings

TTL_S: Final = 30
RENEW_S: Final = 10.0
SINK_SUFFIX: Final = "-sink"
"""``rapport sink`` runs as the consumer group ``{app id}-sink``."""


@dataclass(frozen=True)
class Holder:
    path: str
    host: str
    url: str
    pid: int

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes | str) -> Holder | None:
        try:
            return cls(**orjson.loads(raw))
        except (orjson.JSONDecodeError, TypeError):
            return None


def needs_lease(settings: Settings) -> bool:
    return "sink" in settings.agent_names and settings.clickhouse_url.startswith("chdb://")


def lease_key(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}chdb-writer:{settings.app_id.removesuffix(SINK_SUFFIX)}"


def holder_of(settings: Settings, url: str) -> Holder:
    path = settings.clickhouse_url.removeprefix("chdb://")
    return Holder(path, socket.gethostname(), url, os.getpid())


def _client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=5, socket_connect_timeout=5
    )


def _same_store(other: Holder, me: Holder) -> bool:
    return (other.path, other.host) == (me.path, me.host)


def _alive(holder: Holder) -> bool:
    """Whether the holder's process still runs (it is on this host)."""
    if holder.pid == os.getpid():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire(settings: Settings, me: Holder) -> None:
    """Take the lease, or refuse (ConfigError, one line with the fix) when another store
    holds it."""
    key = lease_key(settings)
    client = _client(settings)
    try:
        if client.set(key, me.encode(), nx=True, ex=TTL_S):
            return
        raw = client.get(key)
        other = Holder.decode(raw) if raw is not None else None
        if other is None or (_same_store(other, me) and not _alive(other)):
            client.set(key, me.encode(), ex=TTL_S)  # our own store, restarted
            return
    except RedisError as exc:
        msg = f"RAPPORT_REDIS_URL: Redis does not answer ({exc}); the chDB writer lease needs it"
        raise ConfigError(msg) from exc
    finally:
        client.close()
    if _same_store(other, me):
        msg = (
            f"another process (pid {other.pid}, {other.url}) already writes the chDB store "
            f"{other.path}: stop it first, or set RAPPORT_DATA_DIR / RAPPORT_CLICKHOUSE_DSN "
            "to another store"
        )
        raise ConfigError(msg)
    msg = (
        f"another worker ({other.url} on {other.host}) already writes this deployment's "
        f"analytics into its own chDB ({other.path}); N workers with chDB keep N partial "
        "databases: run the workers with RAPPORT_AGENTS=processing beside one `rapport "
        "sink`, or set RAPPORT_CLICKHOUSE_DSN to a ClickHouse server"
    )
    raise ConfigError(msg)


def renew(settings: Settings, me: Holder) -> bool:
    """Extend the lease (taken again if it lapsed); False if another store holds it."""
    key = lease_key(settings)
    client = _client(settings)
    try:
        if client.set(key, me.encode(), nx=True, ex=TTL_S):
            return True
        other = Holder.decode(client.get(key) or b"")
        if other is not None and (other.path, other.host) != (me.path, me.host):
            return False
        client.set(key, me.encode(), ex=TTL_S)
        return True
    finally:
        client.close()


def release(settings: Settings, me: Holder) -> None:
    client = _client(settings)
    try:
        key = lease_key(settings)
        if client.get(key) == me.encode():
            client.delete(key)
    finally:
        client.close()


def writer_url(settings: Settings) -> str | None:
    """The URL of the worker writing the deployment's chDB, if one holds the lease."""
    client = _client(settings)
    try:
        raw = client.get(lease_key(settings))
    except RedisError:
        return None
    finally:
        client.close()
    holder = Holder.decode(raw) if raw is not None else None
    return None if holder is None else holder.url
