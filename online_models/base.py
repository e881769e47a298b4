"""The protocol every Rapport online model follows, and the package's errors.

A model is fed one event at a time by a scoring agent: ``predict_one(x)`` returns a
:class:`Prediction` (value, confidence, explanation), ``learn_one(x, y)`` updates the
model when a label arrives and says whether the example was used. Inputs are plain
dicts (River's protocol); bad input never raises: each model states its rule (empty
text scores as the class prior, a missing feature is imputed, an unknown label is
refused and counted). ``version`` counts accepted updates, so an insight can name the
exact model state that produced it.

>>> p = Prediction("positive", 0.9, {"top": ["great"]})
>>> p.value, p.confidence, dict(p.explanation)
('positive', 0.9, {'top': ['great']})
>>> Prediction.abstain("cold start").explanation["reason"]
'cold start'
"""

from __future__ import annotations

import math
import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from streams.core.errors import RapportError

Features = Mapping[str, Any]
"""What a model reads: a flat dict of feature names to values (River's ``x``)."""
Value = str | float | int
"""What a model predicts: a label, a score or an id (``Insight.prediction``)."""
MAX_MAGNITUDE = 1e12
"""Numbers larger than this (in absolute value) are treated as missing."""


class ModelError(RapportError):
    """Base of the errors raised by ``online_models``."""


class SnapshotError(ModelError):
    """Bytes that do not hold a model of the expected class."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One model output: ``value`` is ``None`` when the model abstains (cold start)."""

    value: Value | None
    confidence: float | None = None
    explanation: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def abstain(cls, reason: str) -> Prediction:
        """No prediction, with the reason in the explanation."""
        return cls(None, None, {"reason": reason})


class OnlineModel(ABC):
    """A River-backed model used per event by an agent (see the module docstring)."""

    name: ClassVar[str]
    """Stable model name, written in every insight."""
    transient: ClassVar[tuple[str, ...]] = ()
    """Per-call caches (a predict's work reused by the learn that follows): not model
    state, never pickled; each has a class-level default."""

    def __init__(self) -> None:
        self.version = 0
        """Number of accepted ``learn_one`` calls (the model state the insight used)."""
        self.refused = 0
        """Number of examples refused by rule (unknown label, nothing to learn from)."""

    @abstractmethod
    def predict_one(self, x: Features) -> Prediction:
        """Score ``x``; never raises on bad input (see each model's rule)."""

    @abstractmethod
    def _learn(self, x: Features, y: Any) -> bool:
        """Update on ``(x, y)``; ``False`` when refused by rule."""

    def learn_one(self, x: Features, y: Any = None) -> bool:
        """Update on one example; returns whether it was used (and bumps ``version``)."""
        used = self._learn(x, y)
        if used:
            self.version += 1
        else:
            self.refused += 1
        return used

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in self.transient:
            state.pop(name, None)
        return state

    def forget(self, customer_id: str) -> int:
        """Drop what the model keeps per customer (erasure); returns items removed."""
        del customer_id
        return 0

    def to_bytes(self) -> bytes:
        """The whole model state (pickle). Sign it before storing: ``checkpoint.sign``."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """A model from :meth:`to_bytes` output. Trusted bytes only: storage goes
        through ``checkpoint.restore``, which checks the signature first."""
        model = pickle.loads(data)  # noqa: S301 - trusted in-process bytes, see docstring
        if not isinstance(model, cls):
            raise SnapshotError(f"snapshot holds {type(model).__name__}, expected {cls.__name__}")
        return model


def as_number(value: object) -> float | None:
    """A plausible float from ``value``, else ``None``.

    Bools, text, NaN and infinities are not numbers, and neither is anything beyond
    ``MAX_MAGNITUDE`` (1e12): one such value would wreck a running mean or variance.

    >>> as_number(3), as_number("2.5"), as_number(" "), as_number(float("nan")), as_number(True)
    (3.0, 2.5, None, None, None)
    >>> as_number(-1e308), as_number("1e13")
    (None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_MAGNITUDE else None


def top_items(scores: Mapping[str, float], k: int) -> dict[str, float]:
    """The ``k`` entries with the largest absolute value, rounded, largest first.

    >>> top_items({"a": 0.5, "b": -2.0, "c": 0.1}, 2)
    {'b': -2.0, 'a': 0.5}
    """
    ranked = sorted(scores.items(), key=lambda item: -abs(item[1]))[:k]
    return {name: round(score, 4) for name, score in ranked}
