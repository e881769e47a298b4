"""Checkpoints of partition model sets: round trip, sequence, tampering, staleness."""

from __future__ import annotations

from prometheus_client import REGISTRY

from agents.scoring.checkpoints import Checkpoints
from agents.scoring.state import ModelConfig, PartitionModels
from agents.scoring.store import Stored
from tests.support.scoring import MemoryStore, Pipeline, label, message

KEY = b"a-test-key-of-32-bytes-exactly!!"


def outcome(name: str) -> float:
    found = REGISTRY.get_sample_value("rapport_scoring_checkpoints_total", {"outcome": name})
    return found or 0.0


def fresh(partition: int) -> PartitionModels:
    return PartitionModels(partition, ModelConfig())


def trained() -> Pipeline:
    pipe = Pipeline()
    for i in range(8):
        text, intent = ("where is my card", "card_arrival") if i % 2 else ("refund me", "refund")
        pipe.feed(message(i, text, t=10 * i), partition=2)
        pipe.feed(label(i, intent, t=10 * i + 5), partition=2)
    return pipe


async def test_round_trip_continues_versions_offsets_and_sequence() -> None:
    pipe = trained()
    models = pipe.scorer.sets[2]
    store = MemoryStore()
    saver = Checkpoints(store, KEY, fresh)
    assert models.join.covered == -1
    assert await saver.save(models)
    assert models.join.covered == models.offset == 15, "closed churn holds up to here: saved"
    assert not await saver.save(models), "nothing learnt since: no write"
    assert store.items[2].sequence == 1
    restored = await Checkpoints(store, KEY, fresh).restore(2)
    assert restored.version == models.version and restored.offset == models.offset
    assert restored.models["intent"].version == 8
    x = {"text": "my card never came"}
    assert restored.models["intent"].predict_one(x) == models.models["intent"].predict_one(x)
    assert restored.text_of("c1", "m7") == ("chat", "where is my card")
    # the restorer continues the sequence: its next save lands (2 > 1)
    again = Checkpoints(store, KEY, fresh)
    back = await again.restore(2)
    back.learnt(back.offset + 1)
    assert await again.save(back) and store.items[2].sequence == 2


async def test_tampered_or_foreign_checkpoints_are_refused_and_counted() -> None:
    store = MemoryStore()
    saver = Checkpoints(store, KEY, fresh)
    await saver.save(trained().scorer.sets[2])
    good = store.items[2].blob
    assert good is not None
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    store.items[2] = Stored(bytes(flipped), 1)
    before = outcome("refused")
    models = await Checkpoints(store, KEY, fresh).restore(2)
    assert outcome("refused") == before + 1
    assert models.version == 0 and models.models["intent"].version == 0, "fresh models"
    # signed with another key: refused too; and the fresh set's next save replaces it
    store.items[2] = Stored(good, 1)
    other = Checkpoints(store, b"another-key-of-at-least-16", fresh)
    models = await other.restore(2)
    assert outcome("refused") == before + 2 and models.version == 0
    models.learnt(0)
    assert await other.save(models) and store.items[2].sequence == 2
    # garbage bytes and a set of another partition
    store.items[3] = Stored(b"not a checkpoint", 4)
    assert (await Checkpoints(store, KEY, fresh).restore(3)).version == 0
    store.items[3] = Stored(good, 1)  # partition 2's set under partition 3's key
    assert (await Checkpoints(store, KEY, fresh).restore(3)).partition == 3
    assert outcome("refused") == before + 4


async def test_an_older_signed_copy_is_refused_as_stale() -> None:
    store = MemoryStore()
    saver = Checkpoints(store, KEY, fresh)
    pipe = trained()
    models = pipe.scorer.sets[2]
    await saver.save(models)
    old = store.items[2].blob
    assert old is not None
    models.learnt(models.offset + 1)
    await saver.save(models)
    store.items[2] = Stored(old, 2)  # sequence 1 replayed where 2 was stored
    before = outcome("stale")
    assert (await Checkpoints(store, KEY, fresh).restore(2)).version == 0
    assert outcome("stale") == before + 1


async def test_nothing_stored_gives_fresh_models() -> None:
    before = outcome("fresh")
    models = await Checkpoints(MemoryStore(), KEY, fresh).restore(0)
    assert models.partition == 0 and models.version == 0
    assert outcome("fresh") == before + 1
