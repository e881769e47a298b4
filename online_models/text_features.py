"""Text features for the message models: a River transformer, ``{"text": str}`` in.

The text is normalised (lower case, URLs become ``url``, @mentions ``@user``; negations
such as ``can't``, emoticons, emoji and ``!``/``?`` runs are kept as tokens), cut to
``MAX_TEXT_CHARS`` so a hostile 1 MB message costs what a long one does, and turned
into word unigrams and bigrams, optionally plus character n-grams inside words (which
catch typos and word forms: 4-grams lift BANKING77 by about 2 points) and word prefixes
(a cheap stem: ``cancelled`` also gives ``<canc``). Counts are then weighted
``log(1 + tf)`` (or binary) and L2-normalised.

This is River's ``BagOfWords`` + ``TFIDF``-style weighting folded into one pass over
the tokens: composed from River's own pieces, the same features cost three times as
much per event (normalising and tokenising once per n-gram family, a dict per step).

>>> normalise("@united I CAN'T believe it :( http://t.co/x")
"@user i can't believe it :( url"
>>> tokens(normalise("Thanks!!! :) <3"))
['thanks', '!!!', ':)', '<3']
>>> x = TextFeatures(char_ngrams=None).transform_one({"text": "Not good"})
>>> {k: round(v, 3) for k, v in sorted(x.items())}
{'good': 0.577, 'not': 0.577, 'not good': 0.577}
>>> x = TextFeatures(char_ngrams=None, prefixes=4, binary=True)
>>> sorted(x.transform_one({"text": "Didn't work, thanks"}))
['<didn', '<than', "didn't", "didn't work", 'thanks', 'work', 'work thanks']
>>> TextFeatures().transform_one({"text": ""}), TextFeatures().transform_one({})
({}, {})
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from typing import Any, Final

from river import base

MAX_TEXT_CHARS: Final = 5_000
"""Only the first 5,000 characters of a message are read (bounded cost per event)."""

_URL: Final = re.compile(r"https?://\S+|www\.\S+")
_MENTION: Final = re.compile(r"@\w+")
_SPACES: Final = re.compile(r"\s+")
_TOKEN: Final = re.compile(
    r"@user|[a-z0-9]+(?:'[a-z]+)?|[!?]+|[:;=8][-'^]?[()\[\]dpo/\\|*]|<3"
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]"
)


def normalise(text: str) -> str:
    """Lower-cased text with URLs and @mentions replaced by placeholders."""
    text = _URL.sub(" url ", text[:MAX_TEXT_CHARS].lower())
    return _SPACES.sub(" ", _MENTION.sub(" @user ", text)).strip()


def tokens(text: str) -> list[str]:
    """Word, negation (``can't``), emoticon, emoji and ``!?`` tokens of normalised text."""
    return _TOKEN.findall(text)


def char_ngrams(words: list[str], low: int, high: int) -> list[str]:
    """``#``-prefixed character n-grams of the words joined by spaces.

    The spaces mark word starts and ends (so prefixes and suffixes get grams of their
    own) and grams may span two words, like scikit-learn's ``char`` analyzer; the
    ``#`` keeps grams apart from word features of the same spelling.

    >>> char_ngrams(["hey", "u"], 3, 4)
    ['# he', '#hey', '#ey ', '#y u', '# u ', '# hey', '#hey ', '#ey u', '#y u ']
    """
    joined = f" {' '.join(words)} "
    size = len(joined)
    grams: list[str] = []
    for n in range(low, high + 1):
        grams += ["#" + joined[i : i + n] for i in range(size - n + 1)]
    return grams


def log_tf_l2(counts: Counter[str]) -> dict[base.typing.FeatureName, Any]:
    """``log(1 + count)`` per feature, scaled to unit L2 norm (empty stays empty).

    >>> {k: round(v, 4) for k, v in log_tf_l2(Counter({"a": 1, "b": 2})).items()}
    {'a': 0.5336, 'b': 0.8457}
    """
    weighted = {key: math.log1p(n) for key, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in weighted.values()))
    if norm == 0.0:
        return {}
    return {key: v / norm for key, v in weighted.items()}


class TextFeatures(base.Transformer):
    """``{"text": str}`` -> weighted word 1-2 grams (+ character n-grams).

    A missing or non-text ``text`` is read as empty, which gives no features (the
    classifier then falls back on its class prior).
    """

    prefixes: int = 0
    """Class-level default: a pickle made before this option existed still loads."""

    def __init__(
        self,
        on: str = "text",
        char_ngrams: tuple[int, int] | None = (4, 4),
        binary: bool = False,
        *,
        prefixes: int = 0,
    ) -> None:
        self.on = on
        self.char_ngrams = char_ngrams
        self.binary = binary
        self.prefixes = prefixes
        """When > 0, each word longer than this also gives its ``<``-marked prefix."""

    def transform_one(
        self, x: dict[base.typing.FeatureName, Any]
    ) -> dict[base.typing.FeatureName, Any]:
        text = x.get(self.on)
        if not isinstance(text, str) or not text:
            return {}
        words = tokens(normalise(text))
        keys = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        if self.prefixes > 0:
            n = self.prefixes
            keys += ["<" + w[:n] for w in words if len(w) > n]
        if self.char_ngrams is not None:
            keys += char_ngrams(words, *self.char_ngrams)
        if self.binary:
            unique = set(keys)
            return dict.fromkeys(unique, 1.0 / math.sqrt(len(unique))) if unique else {}
        return log_tf_l2(Counter(keys))
