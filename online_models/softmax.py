"""A multiclass logistic (softmax) regression for sparse features, as a River classifier.

River's own multiclass linear models keep one dict of weights per class and loop over
them in Python: with 77 intents that is several hundred microseconds per event. This
classifier keeps the same River protocol (``learn_one`` / ``predict_proba_one``, so it
composes with ``|`` after River's feature extraction) but stores the weights as a numpy
matrix, one row per feature, one column per class, so an update is a few vector ops.

Learning is one pass of SGD on the log loss with per-feature AdaGrad step sizes
(``lr / sqrt(sum of squared gradients)`` for each feature row): frequent features settle,
rare ones still move, which is what lets a single pass match a batch fit on text.

Two options for streams whose label mix moves: ``balance`` scales each update by
``(n / (k * n_y)) ** balance`` (``n_y`` examples of label ``y`` seen so far out of ``n``,
``k`` labels), so rare labels are not drowned by the frequent one; ``bias_decay < 1``
makes the class bias's AdaGrad memory fade, so the prior keeps following the recent
label mix instead of freezing.

``score`` returns what a prediction computed (rows, values, probabilities) and
``learn_scored`` learns from it, so a caller that predicts then learns the same example
(test-then-train) looks the features up and computes the probabilities once.

Memory is bounded: at most ``max_features`` feature rows (features first seen once the
table is full are ignored, counted in ``dropped_features``) and ``max_classes`` classes
(a further label is refused, counted in ``refused_labels``).

>>> model = SparseSoftmax(lr=0.5)
>>> for _ in range(20):
...     model.learn_one({"good": 1.0}, "pos")
...     model.learn_one({"bad": 1.0}, "neg")
>>> model.predict_one({"good": 1.0}), model.predict_one({"bad": 1.0})
('pos', 'neg')
>>> round(model.predict_proba_one({"good": 1.0})["pos"], 2)
0.94
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from itertools import compress, repeat
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
from river import base

FloatArray = npt.NDArray[np.float64]
WeightArray = npt.NDArray[np.float32]
_FIRST_ROWS: Final = 1024


class Scored(NamedTuple):
    """One example as the model saw it: its known features' keys, rows and values, the
    class probabilities, and the update count they are valid for."""

    x: dict[Hashable, Any]
    keys: list[Hashable]
    idx: npt.NDArray[np.intp]
    val: FloatArray
    rows: WeightArray
    """The features' weight rows (a copy)."""
    proba: FloatArray
    complete: bool
    """Whether every feature of ``x`` has a row (else learning adds rows)."""
    step: int


class SparseSoftmax(base.Classifier):
    """Softmax regression over sparse dict features, numpy-backed (see module doc)."""

    balance: float = 0.0
    bias_decay: float = 1.0
    _step: int = 0
    """Class-level defaults: a pickle made before these options existed still loads."""

    def __init__(
        self,
        lr: float = 0.5,
        max_features: int = 1 << 18,
        max_classes: int = 256,
        *,
        balance: float = 0.0,
        bias_decay: float = 1.0,
    ) -> None:
        self.lr = lr
        self.max_features = max_features
        self.max_classes = max_classes
        self.balance = balance
        self.bias_decay = bias_decay
        self.eps = 1e-6
        self._step = 0
        """Updates and new classes so far: a :class:`Scored` is valid for one step."""
        self.dropped_features = 0
        self.refused_labels = 0
        self._vocab: dict[Hashable, int] = {}
        self._labels: list[base.typing.ClfTarget] = []
        self._index: dict[base.typing.ClfTarget, int] = {}
        self._w: WeightArray = np.zeros((_FIRST_ROWS, 0), np.float32)
        self._g: FloatArray = np.zeros(_FIRST_ROWS)
        self._b: FloatArray = np.zeros(0)
        self._gb = 0.0
        self._seen: FloatArray = np.zeros(0)

    def fade(self, factor: float) -> None:
        """Scale the AdaGrad accumulators by ``factor``: the weights learnt so far become
        a prior that the next updates move further (a warm start's tenant labels)."""
        self._g = self._g * factor
        self._gb = self._gb * factor

    @property
    def _multiclass(self) -> bool:
        return True

    @property
    def classes(self) -> list[base.typing.ClfTarget]:
        """The labels seen so far, in order of first appearance."""
        return list(self._labels)

    @property
    def n_features(self) -> int:
        """Feature rows in use (at most ``max_features``)."""
        return len(self._vocab)

    def _rows(
        self, x: dict[Hashable, Any], grow: bool
    ) -> tuple[list[Hashable], npt.NDArray[np.intp], FloatArray, bool]:
        """Keys, row indices and values of ``x``'s known features (numbers), and whether
        every feature of ``x`` has a row."""
        keys = list(x)
        n = len(keys)
        idx = np.fromiter(map(self._vocab.get, keys, repeat(-1)), dtype=np.intp, count=n)
        val = np.fromiter(x.values(), dtype=np.float64, count=n)
        if n == 0 or idx.min() >= 0:
            return keys, idx, val, True
        if grow:
            for i in np.flatnonzero(idx < 0).tolist():
                idx[i] = self._new_row(keys[i])
        known = idx >= 0
        complete = bool(known.all())
        if complete:
            return keys, idx, val, True
        return list(compress(keys, known.tolist())), idx[known], val[known], False

    def _new_row(self, key: Hashable) -> int:
        """The row of a new feature, or -1 when the table is full."""
        if len(self._vocab) >= self.max_features:
            self.dropped_features += 1
            return -1
        row = self._vocab[key] = len(self._vocab)
        self._reserve(row + 1)
        return row

    def _reserve(self, rows: int) -> None:
        capacity = self._w.shape[0]
        if rows <= capacity:
            return
        new = 1 << (rows - 1).bit_length()
        self._w = np.vstack([self._w, np.zeros((new - capacity, self._w.shape[1]), np.float32)])
        self._g = np.concatenate([self._g, np.zeros(new - capacity)])

    def _add_class(self, y: base.typing.ClfTarget) -> bool:
        if len(self._labels) >= self.max_classes:
            self.refused_labels += 1
            return False
        self._index[y] = len(self._labels)
        self._labels.append(y)
        self._w = np.hstack([self._w, np.zeros((self._w.shape[0], 1), np.float32)])
        self._b = np.append(self._b, 0.0)
        self._seen = np.append(self._seen, 0.0)
        self._step += 1
        return True

    def _proba(self, rows: WeightArray, val: FloatArray) -> FloatArray:
        """Class probabilities from the gathered weight rows of the features."""
        logits: FloatArray = val @ rows + self._b
        logits -= logits.max()
        np.exp(logits, out=logits)
        logits /= logits.sum()
        return logits

    def score(self, x: dict[base.typing.FeatureName, Any]) -> Scored | None:
        """``x``'s known features and class probabilities (``None`` before any label)."""
        if not self._labels:
            return None
        keys, idx, val, complete = self._rows(x, grow=False)
        rows = self._w[idx]
        return Scored(x, keys, idx, val, rows, self._proba(rows, val), complete, self._step)

    def learn_one(self, x: dict[base.typing.FeatureName, Any], y: base.typing.ClfTarget) -> None:
        self.learn_scored(None, x, y)

    def learn_scored(
        self, scored: Scored | None, x: dict[base.typing.FeatureName, Any], y: base.typing.ClfTarget
    ) -> None:
        """``learn_one``, reusing ``scored`` when it is ``score(x)`` at the current step."""
        if y not in self._index and not self._add_class(y):
            return
        if scored is not None and scored.x is x and scored.step == self._step:
            idx, val, rows, proba = scored.idx, scored.val, scored.rows, scored.proba
            if not scored.complete:  # rows for the new features (zero weights: same proba)
                _, idx, val, _ = self._rows(x, grow=True)
                rows = self._w[idx]
        else:
            _, idx, val, _ = self._rows(x, grow=True)
            rows = self._w[idx]
            proba = self._proba(rows, val)
        label = self._index[y]
        grad = proba.copy()
        grad[label] -= 1.0
        self._seen[label] += 1.0
        if self.balance:
            grad *= (self._seen.sum() / (len(self._labels) * self._seen[label])) ** self.balance
        grad_sq = float(grad @ grad)
        g_rows = self._g[idx]
        g_rows += val * val * grad_sq
        self._g[idx] = g_rows
        step = np.sqrt(g_rows)
        step += self.eps
        np.divide(val, step, out=step)
        self._w[idx] = rows - np.outer(step, self.lr * grad)
        self._gb = self.bias_decay * self._gb + grad_sq
        self._b -= self.lr * grad / (math.sqrt(self._gb) + self.eps)
        self._step += 1

    def predict_proba_one(
        self, x: dict[base.typing.FeatureName, Any], **kwargs: Any
    ) -> dict[base.typing.ClfTarget, float]:
        scored = self.score(x)
        if scored is None:
            return {}
        return dict(zip(self._labels, scored.proba.tolist(), strict=True))

    def predict_one(
        self, x: dict[base.typing.FeatureName, Any], **kwargs: Any
    ) -> base.typing.ClfTarget | None:
        best = self.best(x)
        return None if best is None else best[0]

    def best(
        self, x: dict[base.typing.FeatureName, Any]
    ) -> tuple[base.typing.ClfTarget, float] | None:
        """The most probable label and its probability (``None`` before any label)."""
        scored = self.score(x)
        if scored is None:
            return None
        top = int(scored.proba.argmax())
        return self._labels[top], float(scored.proba[top])

    def explain(
        self, x: dict[base.typing.FeatureName, Any], k: int
    ) -> tuple[base.typing.ClfTarget, float, dict[str, float]] | None:
        """The best label, its probability and the ``k`` known features that weigh most
        on its logit (``weight x value``); ``None`` before any label."""
        scored = self.score(x)
        return None if scored is None else self.explain_scored(scored, k)

    def explain_scored(
        self, scored: Scored, k: int
    ) -> tuple[base.typing.ClfTarget, float, dict[str, float]]:
        """``explain`` of an example already scored (at the current step)."""
        best = int(scored.proba.argmax())
        weights = scored.val * scored.rows[:, best]
        size = -np.abs(weights)
        order = np.argpartition(size, k - 1)[:k] if len(weights) > k > 0 else np.arange(len(size))
        order = order[np.argsort(size[order])][:k]
        top = {_name(scored.keys[i]): round(float(weights[i]), 4) for i in order.tolist()}
        return self._labels[best], float(scored.proba[best]), top

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        rows = max(len(self._vocab), 1)
        state["_w"] = self._w[:rows].copy()
        state["_g"] = self._g[:rows].copy()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_seen" not in state:  # a pickle made before class counts were kept
            self._seen = np.zeros(len(self._labels))
        self._reserve(max(len(self._vocab), _FIRST_ROWS))


def _name(key: Hashable) -> str:
    """A feature key as text: bigram tuples are joined with a space."""
    if isinstance(key, tuple):
        return " ".join(str(part) for part in key)
    return str(key)
