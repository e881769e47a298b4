"""Redis storage of model-set checkpoints: one hash per partition of ``events``.

Key ``{prefix}models:{partition}``, fields ``blob`` (the signed checkpoint,
``online_models.checkpoint`` format), ``sequence`` (its checkpoint sequence, in
clear for operators) and ``saved_at`` (epoch seconds). A write only lands when its
sequence is higher than the stored one (one Lua call), so a worker that lost the
partition cannot overwrite a newer checkpoint with an older one. The bytes are not
trusted here: the scoring agent verifies the signature before unpickling.

>>> ModelStore("redis://127.0.0.1:6379/0", "t:").key(3)
't:models:3'
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.core.errors import RapportError

_SAVE = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '0')
if tonumber(ARGV[2]) <= stored then return 0 end
redis.call('HSET', KEYS[1], 'blob', ARGV[1], 'sequence', ARGV[2], 'saved_at', ARGV[3])
return 1
"""


class ModelStoreError(RapportError):
    """Redis refused or could not be reached; the message names the operation."""


@dataclass(frozen=True, slots=True)
class Stored:
    """A partition's stored checkpoint (``blob`` is ``None`` if only a sequence is)."""

    blob: bytes | None
    sequence: int


class ModelStore:
    """Checkpoint blobs per partition in Redis (see the module docstring)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._client: aioredis.Redis | None = None

    def key(self, partition: int) -> str:
        return f"{self.prefix}models:{partition}"

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=5.0, socket_connect_timeout=2.0
            )
        return self._client

    async def load(self, partition: int) -> Stored | None:
        """The partition's checkpoint, ``None`` when none was ever saved."""
        try:
            blob, sequence = await self.client.hmget(self.key(partition), ["blob", "sequence"])
        except (RedisError, OSError) as exc:
            raise ModelStoreError(f"Redis read of checkpoint {partition} failed: {exc}") from exc
        if blob is None and sequence is None:
            return None
        data = blob.encode() if isinstance(blob, str) else blob
        return Stored(data, int(sequence or 0))

    async def save(self, partition: int, blob: bytes, sequence: int) -> bool:
        """Store a checkpoint; ``False`` when a checkpoint of a higher sequence is there."""
        try:
            done = await self.client.eval(
                _SAVE, 1, self.key(partition), blob, str(sequence), repr(time.time())
            )
        except (RedisError, OSError) as exc:
            raise ModelStoreError(f"Redis write of checkpoint {partition} failed: {exc}") from exc
        return bool(done)

    async def replace(self, partition: int, blob: bytes) -> None:
        """Overwrite the blob as it is (operators and fault tests: e.g. a tampered copy)."""
        try:
            await self.client.hset(self.key(partition), "blob", blob)
        except (RedisError, OSError) as exc:
            raise ModelStoreError(f"Redis write of checkpoint {partition} failed: {exc}") from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
