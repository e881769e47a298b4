"""Signed model checkpoints: pickled state + HMAC-SHA256, verified before unpickling.

Unpickling runs code, so a checkpoint is only unpickled after its signature checks
out. Layout (all lengths big-endian)::

    b"RPCK1" | header length (4 bytes) | header JSON | payload | HMAC-SHA256 (32 bytes)

The MAC covers everything before it. The header names the model class, its
``version`` (accepted updates) and the checkpoint ``sequence``, a counter the
:class:`Checkpointer` bumps on every dump, so a restore can refuse a snapshot older
than one it has already seen (``min_sequence``: a replayed old checkpoint).

>>> from online_models.reco import Recommender
>>> signer = Checkpointer(b"k" * 32)
>>> model = Recommender()
>>> _ = model.learn_one({"customer_id": "c", "product_id": "p"})
>>> blob = signer.dump(model)
>>> restored, info = signer.load(blob, Recommender)
>>> info.model, info.model_version, info.sequence, restored.version
('reco', 1, 1, 1)
>>> tampered = blob[:-40] + bytes([blob[-40] ^ 1]) + blob[-39:]
>>> try:
...     signer.load(tampered, Recommender)
... except SignatureError as exc:
...     print(exc)
checkpoint signature does not match (tampered, or signed with another key)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from dataclasses import asdict, dataclass
from typing import Final, TypeVar

from online_models.base import ModelError, OnlineModel

MAGIC: Final = b"RPCK1"
MIN_KEY_BYTES: Final = 16
_MAC_BYTES: Final = hashlib.sha256().digest_size
_LEN_BYTES: Final = 4
M = TypeVar("M", bound=OnlineModel)


class CheckpointError(ModelError):
    """A checkpoint cannot be written or read (bad key, truncated or foreign bytes)."""


class SignatureError(CheckpointError):
    """The HMAC does not match: the snapshot was changed or signed with another key."""


class StaleCheckpointError(CheckpointError):
    """The snapshot is older (lower sequence) than the caller accepts."""


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """The signed header of a checkpoint."""

    model: str
    model_class: str
    model_version: int
    sequence: int


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


class Checkpointer:
    """Dumps and loads signed checkpoints with one key and a sequence counter."""

    def __init__(self, key: bytes, *, sequence: int = 0) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise CheckpointError(f"checkpoint key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.sequence = sequence
        """The last sequence number written or read."""

    def dump(self, model: OnlineModel) -> bytes:
        """The model's signed snapshot; bumps ``sequence``."""
        self.sequence += 1
        info = CheckpointInfo(model.name, type(model).__name__, model.version, self.sequence)
        header = json.dumps(asdict(info), sort_keys=True).encode()
        body = MAGIC + len(header).to_bytes(_LEN_BYTES, "big") + header + model.to_bytes()
        return body + _mac(self._key, body)

    def verify(self, blob: bytes) -> CheckpointInfo:
        """The header of a correctly signed checkpoint (raises otherwise)."""
        return self._open(blob)[0]

    def load(
        self, blob: bytes, expected: type[M], *, min_sequence: int = 0
    ) -> tuple[M, CheckpointInfo]:
        """The model in ``blob``, after checking signature, class and sequence."""
        info, payload = self._open(blob)
        if info.model_class != expected.__name__:
            wanted = expected.__name__
            raise CheckpointError(f"checkpoint holds {info.model_class}, expected {wanted}")
        if info.sequence < min_sequence:
            raise StaleCheckpointError(f"checkpoint sequence {info.sequence} < {min_sequence}")
        model = pickle.loads(payload)  # noqa: S301 - signature verified just above
        if not isinstance(model, expected):
            raise CheckpointError(f"checkpoint payload is {type(model).__name__}")
        self.sequence = max(self.sequence, info.sequence)
        return model, info

    def _open(self, blob: bytes) -> tuple[CheckpointInfo, bytes]:
        start = len(MAGIC) + _LEN_BYTES
        if len(blob) < start + _MAC_BYTES or not blob.startswith(MAGIC):
            raise CheckpointError("not a Rapport checkpoint (bad magic or truncated)")
        body, mac = blob[:-_MAC_BYTES], blob[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, _mac(self._key, body)):
            raise SignatureError(
                "checkpoint signature does not match (tampered, or signed with another key)"
            )
        size = int.from_bytes(body[len(MAGIC) : start], "big")
        try:
            info = CheckpointInfo(**json.loads(body[start : start + size]))
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"checkpoint header unreadable: {exc}") from exc
        return info, body[start + size :]
