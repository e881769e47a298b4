"""Warm starts: the text models begin from a signed snapshot trained on data the project
ships, then keep learning online from the tenant's own labels.

- **intent**: the training part (seeded 80/20 split, seed 0) of Bitext's 27 customer-
  support intents (CDLA-Sharing-1.0), two passes: the intents drafting knows; the
  holdout stays unseen, for ``rapport evaluate --warm``. BANKING77's 77 banking intents
  are left out of the prior (a shop's messages would be read as banking queries; they
  would also make the snapshot five times larger, once per partition in memory);
- **sentiment**: the VADER lexicon (MIT, the ``vaderSentiment`` package): its words of
  valence at least ``LEXICON_MIN`` in size as positive or negative examples, plus the
  Bitext and BANKING77 (CC BY 4.0) training utterances VADER calls positive or negative
  and ``NEUTRAL_UTTERANCES`` it calls neutral: weak labels, a prior for the first events
  that real labels correct.

After training, each classifier's AdaGrad accumulators are scaled by ``FADE`` (0.1): the
snapshot's weights are the prior, and the tenant's first labels move them about three
times as far as one more training example would, so the prior gives way as labels
arrive. Churn, segments, anomalies and recommendations learn from behaviour the shipped
data does not have and still start cold.

The snapshot is a :class:`WarmStart` signed with the checkpoint key (``RPCK1``, see
:mod:`online_models.checkpoint`); its ``snapshot`` id (``warm-`` and a digest of the
data files and the recipe) is written on every insight of a model it started.
"""

from __future__ import annotations

import copy
import hashlib
import random
from pathlib import Path
from typing import Any, ClassVar, Final

from online_models.base import Features, OnlineModel, Prediction
from online_models.checkpoint import Checkpointer
from online_models.text_models import IntentModel, SentimentModel

RECIPE: Final = (
    "intent: bitext train, 2 passes; sentiment: VADER lexicon words |v|>=0.5, VADER-labelled "
    "polar utterances and 2000 neutral ones; fade 0.1"
)
NEUTRAL_UTTERANCES: Final = 2_000
LEXICON_MIN: Final = 0.5
INTENT_PASSES: Final = 2
FADE: Final = 0.1
SEED: Final = 0


class WarmStart(OnlineModel):
    """Trained models to start partition sets from (see the module docstring)."""

    name: ClassVar[str] = "warm_start"

    def __init__(
        self, snapshot: str, models: dict[str, OnlineModel], sources: dict[str, int]
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.models = models
        self.sources = sources
        """Rows learnt from, per dataset."""

    def predict_one(self, x: Features) -> Prediction:
        del x
        return Prediction.abstain("a warm-start snapshot: use models[name]")

    def _learn(self, x: Features, y: Any) -> bool:
        del x, y
        return False

    def copies(self) -> dict[str, OnlineModel]:
        """Independent copies of the trained models, for one partition's set."""
        return copy.deepcopy(self.models)


def dump(warm: WarmStart, key: bytes) -> bytes:
    return Checkpointer(key).dump(warm)


def load(blob: bytes, key: bytes) -> WarmStart:
    """The snapshot in ``blob``, its signature checked (CheckpointError otherwise)."""
    warm, _ = Checkpointer(key).load(blob, WarmStart)
    return warm


def snapshot_id(data_dir: Path | None) -> str:
    from online_models.evaluate import data  # noqa: PLC0415 - training only

    digest = hashlib.sha256(RECIPE.encode())
    for name in ("bitext", "banking77"):
        digest.update(data.locate(name, data_dir).read_bytes())
    return f"warm-{digest.hexdigest()[:10]}"


def train(data_dir: Path | None = None) -> WarmStart:
    """Train the warm-start snapshot from the shipped datasets (a few seconds)."""
    import importlib  # noqa: PLC0415 - training only: a worker just loads the snapshot

    from online_models.evaluate import data  # noqa: PLC0415
    from online_models.evaluate.batch import vader_label  # noqa: PLC0415

    bitext = data.bitext(data_dir, seed=SEED)
    banking = data.banking77(data_dir, seed=SEED)
    examples = bitext.train + banking.train
    random.Random(SEED).shuffle(examples)
    intent = IntentModel()
    for _ in range(INTENT_PASSES):
        for text, label in bitext.train:
            intent.learn_one({"text": text}, label)
    lexicon: Any = importlib.import_module("vaderSentiment.vaderSentiment")  # untyped
    analyzer = lexicon.SentimentIntensityAnalyzer()
    weak = [
        (word, "positive" if valence > 0 else "negative")
        for word, valence in analyzer.lexicon.items()
        if abs(valence) >= LEXICON_MIN
    ]
    neutral = 0
    for text, _ in examples:
        label = vader_label(float(analyzer.polarity_scores(text)["compound"]))
        if label == "neutral":
            neutral += 1
            if neutral > NEUTRAL_UTTERANCES:
                continue
        weak.append((text, label))
    random.Random(SEED).shuffle(weak)
    sentiment = SentimentModel()
    for text, label in weak:
        sentiment.learn_one({"text": text}, label)
    for model in (intent, sentiment):
        model.classifier.fade(FADE)
    sources = {
        "bitext": len(bitext.train),
        "banking77": len(banking.train),
        "vader_lexicon": sum(1 for v in analyzer.lexicon.values() if abs(v) >= LEXICON_MIN),
    }
    models: dict[str, OnlineModel] = {"intent": intent, "sentiment": sentiment}
    return WarmStart(snapshot_id(data_dir), models, sources)
