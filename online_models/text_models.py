"""Message models: sentiment (negative / neutral / positive) and intent.

Both are ``TextFeatures | SparseSoftmax`` River pipelines behind the
:class:`~online_models.base.OnlineModel` protocol. ``x`` is ``{"text": str}`` (other keys
are ignored); ``y`` is the agent's label.

Rules for bad input, never an exception:

- empty, missing or non-text ``text``: no features, so the prediction is the class
  prior (``explanation["reason"] = "no text features"``); learning from it is refused;
- huge text: only the first ``MAX_TEXT_CHARS`` characters are read;
- sentiment labels outside negative / neutral / positive (case and spaces ignored) are
  refused; intent labels are open-ended (a new intent is a new class) up to
  ``max_classes``, then refused; a non-text or empty label is refused.

>>> model = SentimentModel()
>>> model.predict_one({"text": "great"}).value is None
True
>>> for _ in range(5):
...     _ = model.learn_one({"text": "great crew, thanks"}, "positive")
...     _ = model.learn_one({"text": "delayed again, lost my bag"}, "Negative")
>>> model.predict_one({"text": "thanks, great"}).value
'positive'
>>> model.learn_one({"text": "meh"}, "angry"), model.version, model.refused
(False, 10, 1)
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar, Final

from river import compose

from online_models.base import Features, OnlineModel, Prediction
from online_models.softmax import Scored, SparseSoftmax
from online_models.text_features import TextFeatures

SENTIMENTS: Final = ("negative", "neutral", "positive")
MAX_LABEL_CHARS: Final = 100
EXPLAIN_TOP: Final = 3


class TextClassifierModel(OnlineModel):
    """A text classifier over ``{"text": str}`` (see the module docstring)."""

    name: ClassVar[str] = "text"
    closed_labels: ClassVar[tuple[str, ...] | None] = None
    """When set, the only labels accepted (lower-cased); else labels are open-ended."""

    transient: ClassVar[tuple[str, ...]] = ("_last",)
    _last: tuple[str, dict[Hashable, Any], Scored | None] | None = None
    """The last text predicted, its features and scores: ``learn_one`` on the same text
    right after (test-then-train) reuses them instead of computing them again."""

    def __init__(
        self,
        *,
        char_ngrams: tuple[int, int] | None = (4, 4),
        lr: float = 1.0,
        max_features: int = 1 << 18,
        max_classes: int = 256,
        prefixes: int = 0,
        balance: float = 0.0,
        bias_decay: float = 1.0,
    ) -> None:
        super().__init__()
        self.features = TextFeatures(char_ngrams=char_ngrams, binary=True, prefixes=prefixes)
        self.classifier = SparseSoftmax(
            lr=lr,
            max_features=max_features,
            max_classes=max_classes,
            balance=balance,
            bias_decay=bias_decay,
        )
        self.pipeline: compose.Pipeline = self.features | self.classifier
        """The same steps as one River pipeline (for River tooling)."""
        self._last = None

    def _label(self, y: Any) -> str | None:
        if not isinstance(y, str) or not y.strip() or len(y) > MAX_LABEL_CHARS:
            return None
        if self.closed_labels is None:
            return y.strip()
        label = y.strip().lower()
        return label if label in self.closed_labels else None

    def _text(self, x: Features) -> str:
        text = x.get("text")
        return text if isinstance(text, str) else ""

    def predict_one(self, x: Features) -> Prediction:
        text = self._text(x)
        xt = self.features.transform_one({"text": text})
        scored = self.classifier.score(xt)
        self._last = (text, xt, scored)
        if scored is None:
            return Prediction.abstain("no label learned yet")
        label, proba, top = self.classifier.explain_scored(scored, EXPLAIN_TOP)
        if not xt:
            return Prediction(str(label), proba, {"reason": "no text features"})
        return Prediction(str(label), proba, {"top_features": top})

    def _learn(self, x: Features, y: Any) -> bool:
        label = self._label(y)
        text = self._text(x)
        last, self._last = self._last, None
        if last is not None and (last[0] is text or last[0] == text):
            _, xt, scored = last
        else:
            xt, scored = self.features.transform_one({"text": text}), None
        if label is None or not xt:
            return False
        known = label in self.classifier.classes
        self.classifier.learn_scored(scored, xt, label)
        return known or label in self.classifier.classes


class SentimentModel(TextClassifierModel):
    """Sentiment of a message: ``negative``, ``neutral`` or ``positive``.

    Defaults tuned on the airline tweets: word 1-2 grams plus 4-letter word prefixes,
    AdaGrad step 0.5, updates weighted towards the rarer labels (``balance=0.25``) and a
    class prior that follows the recent label mix (``bias_decay=0.999``): together
    about one point of holdout accuracy and two of macro-F1 over plain 1-2 grams.
    Adding character 4-grams (``char_ngrams=(4, 4)``) costs two to three times as
    much per event (``rapport evaluate`` shows both).
    """

    name: ClassVar[str] = "sentiment"
    closed_labels: ClassVar[tuple[str, ...] | None] = SENTIMENTS

    def __init__(
        self,
        *,
        char_ngrams: tuple[int, int] | None = None,
        lr: float = 0.5,
        prefixes: int = 4,
        balance: float = 0.25,
        bias_decay: float = 0.999,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            char_ngrams=char_ngrams,
            lr=lr,
            prefixes=prefixes,
            balance=balance,
            bias_decay=bias_decay,
            **kwargs,
        )


class IntentModel(TextClassifierModel):
    """Intent of an inbound message, learnt from agents' intent labels (open label set).

    Defaults tuned on BANKING77: word 1-2 grams plus character 4-grams, step 1.5.
    """

    name: ClassVar[str] = "intent"

    def __init__(
        self, *, char_ngrams: tuple[int, int] | None = (4, 4), lr: float = 1.5, **kwargs: Any
    ) -> None:
        super().__init__(char_ngrams=char_ngrams, lr=lr, **kwargs)
