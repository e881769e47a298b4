"""Exact offline metrics for the evaluation table (the live monitor uses River's).

River's ``ROCAUC`` is approximate (a fixed grid of thresholds), which is right for a
stream but not for a comparison with a batch baseline, so the table uses these.

>>> accuracy(["a", "b", "b"], ["a", "b", "a"])
0.6666666666666666
>>> round(macro_f1(["a", "b", "b"], ["a", "b", "a"]), 4)
0.6667
>>> roc_auc([False, False, True, True], [0.1, 0.4, 0.35, 0.8])
0.75
>>> roc_auc([True, True], [0.1, 0.2])
nan
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence


def accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Share of exact matches (``nan`` when empty)."""
    if not truth:
        return math.nan
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def macro_f1(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Unweighted mean of per-class F1 over the labels seen in truth or predictions."""
    pairs = list(zip(truth, predicted, strict=True))
    if not pairs:
        return math.nan
    hits = Counter(t for t, p in pairs if t == p)
    actual = Counter(t for t, _ in pairs)
    guessed = Counter(p for _, p in pairs)
    labels = set(actual) | set(guessed)
    return sum(2 * hits[c] / (actual[c] + guessed[c]) for c in labels) / len(labels)


def roc_auc(truth: Sequence[bool], scores: Sequence[float]) -> float:
    """Exact ROC AUC (Mann-Whitney, ties count half); ``nan`` with a single class."""
    ranked = sorted(zip(scores, truth, strict=True), key=lambda pair: pair[0])
    positives = sum(truth)
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid_rank = (i + j + 1) / 2
        rank_sum += mid_rank * sum(1 for _, y in ranked[i:j] if y)
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
