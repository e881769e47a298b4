"""Checkpoints of the partition model sets: signed snapshots in a store, restored lazily.

Format: one :class:`~online_models.checkpoint.Checkpointer` blob per partition
(``RPCK1`` | header | pickled :class:`~agents.scoring.state.PartitionModels` |
HMAC-SHA256), the header naming the set's ``version`` (events learnt) and the
checkpoint ``sequence``, which grows by one per save and per partition, across
restarts (it continues from the stored one).

Restore rules (never raise; each outcome counted in
``rapport_scoring_checkpoints_total``):

- nothing stored: ``fresh`` models;
- a bad signature, bytes that are no checkpoint, a set of another partition, or a
  payload that no longer unpickles: ``refused`` (logged as an error), fresh models;
  the next save (a higher sequence) replaces the refused blob;
- a signed blob older than the stored sequence (a replayed copy): ``stale``, fresh;
- Redis unreachable: ``failed``, fresh models; the store only takes a save of a
  higher sequence than it holds, so these fresh models cannot overwrite a newer
  checkpoint until they have been saved as many times.

A save is skipped when the set learnt nothing since the last one (its ``version``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from agents.scoring import metrics as sm
from agents.scoring.state import PartitionModels
from agents.scoring.store import ModelStoreError, Stored
from online_models.checkpoint import Checkpointer, CheckpointError, StaleCheckpointError

log = logging.getLogger(__name__)


class SnapshotStore(Protocol):
    """Where checkpoints live (``agents.scoring.store.ModelStore`` in a worker)."""

    async def load(self, partition: int) -> Stored | None: ...
    async def save(self, partition: int, blob: bytes, sequence: int) -> bool: ...


class Checkpoints:
    """Saves and restores partition model sets (see the module docstring)."""

    def __init__(
        self, store: SnapshotStore, key: bytes, fresh: Callable[[int], PartitionModels]
    ) -> None:
        self.store = store
        self.key = key
        self.fresh = fresh
        self.signers: dict[int, Checkpointer] = {}
        self.saved: dict[int, int] = {}
        """The set version last saved (or restored), per partition."""

    async def restore(self, partition: int) -> PartitionModels:
        """The partition's checkpointed set, or fresh models (module docstring)."""
        try:
            stored = await self.store.load(partition)
        except ModelStoreError as exc:
            log.error("scoring: partition %d starts fresh: %s", partition, exc)
            return self._fresh(partition, "failed", 0)
        if stored is None or stored.blob is None:
            return self._fresh(partition, "fresh", 0 if stored is None else stored.sequence)
        signer = Checkpointer(self.key, sequence=stored.sequence)
        models, outcome = self._open(partition, signer, stored.blob, stored.sequence)
        if models is None:
            return self._fresh(partition, outcome, stored.sequence)
        self.signers[partition] = signer
        self.saved[partition] = models.version
        sm.CHECKPOINTS.labels(outcome).inc()
        log.info(
            "scoring: partition %d restored (version %d, offset %d, sequence %d)",
            partition,
            models.version,
            models.offset,
            signer.sequence,
        )
        return models

    @staticmethod
    def _open(
        partition: int, signer: Checkpointer, blob: bytes, sequence: int
    ) -> tuple[PartitionModels | None, str]:
        """The set in ``blob`` and ``restored``, or ``None`` and why it was refused."""
        try:
            models, _ = signer.load(blob, PartitionModels, min_sequence=sequence)
        except StaleCheckpointError as exc:
            log.error("scoring: partition %d checkpoint refused as stale: %s", partition, exc)
            return None, "stale"
        except CheckpointError as exc:
            log.error("scoring: partition %d checkpoint refused: %s", partition, exc)
            return None, "refused"
        except Exception as exc:  # an unpicklable payload (signed, but from other code)
            log.error("scoring: partition %d checkpoint unreadable: %r", partition, exc)
            return None, "refused"
        if models.partition != partition:
            log.error("scoring: checkpoint %d holds partition %d", partition, models.partition)
            return None, "refused"
        return models, "restored"

    def _fresh(self, partition: int, outcome: str, sequence: int) -> PartitionModels:
        sm.CHECKPOINTS.labels(outcome).inc()
        self.signers[partition] = Checkpointer(self.key, sequence=sequence)
        models = self.fresh(partition)
        self.saved[partition] = models.version
        return models

    async def save(self, models: PartitionModels) -> bool:
        """Sign and store the set if it learnt since its last save; ``True`` if stored."""
        partition = models.partition
        if self.saved.get(partition) == models.version:
            return False
        signer = self.signers.get(partition)
        if signer is None:
            signer = self.signers[partition] = Checkpointer(self.key)
        started = time.perf_counter()
        version, offset = models.version, models.offset
        blob = signer.dump(models)
        try:
            stored = await self.store.save(partition, blob, signer.sequence)
        except ModelStoreError as exc:
            sm.CHECKPOINTS.labels("failed").inc()
            log.error("scoring: checkpoint of partition %d not saved: %s", partition, exc)
            return False
        if not stored:
            sm.CHECKPOINTS.labels("stale").inc()
            log.warning("scoring: a newer checkpoint of partition %d is stored", partition)
            return False
        self.saved[partition] = version
        models.join.checkpointed(offset)
        sm.CHECKPOINTS.labels("saved").inc()
        sm.CHECKPOINT_BYTES.labels(str(partition)).set(len(blob))
        sm.CHECKPOINT_SECONDS.observe(time.perf_counter() - started)
        return True

    def forget(self, partition: int) -> None:
        """The partition left this worker: its signer goes (the next owner continues)."""
        self.signers.pop(partition, None)
        self.saved.pop(partition, None)
