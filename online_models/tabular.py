"""Turning an arbitrary feature dict into the typed dict a River pipeline can take.

Customer features come from many producers, so the models never trust their shape.
:class:`TabularSchema` applies one rule set:

- declared numeric features are always present: a finite float, or ``None`` when the
  value is missing or not a number (the pipelines impute ``None`` with a running mean);
  ``log_<name>`` (``log1p`` of the non-negative part) is added for each one when
  ``log_features`` is set;
- every other key is a category: text, integers and booleans become strings cut to
  ``MAX_VALUE_CHARS``; floats, lists, dicts and ``None`` are dropped;
- bounded memory: at most ``max_categorical`` category features (the first seen) and
  ``max_values`` distinct values each (later values map to ``"__other__"``); keys in
  ``ignore`` (ids) never become features.

>>> schema = TabularSchema(numeric=("tenure",), ignore=("customerID",), max_values=2)
>>> schema.prepare({"tenure": "12", "Contract": "Two year", "customerID": "x-1"})
{'tenure': 12.0, 'log_tenure': 2.5649493574615367, 'Contract': 'Two year'}
>>> schema.prepare({"tenure": " ", "Contract": "Month"})
{'tenure': None, 'log_tenure': None, 'Contract': 'Month'}
>>> schema.prepare({"Contract": "Weekly", "Senior": True})["Contract"]
'__other__'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from online_models.base import Features, as_number

MAX_VALUE_CHARS: Final = 64
OTHER: Final = "__other__"


class TabularSchema:
    """The rule set of the module docstring; it learns category names as it goes."""

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        ignore: Sequence[str] = (),
        log_features: bool = True,
        max_categorical: int = 64,
        max_values: int = 50,
    ) -> None:
        self.numeric = tuple(numeric)
        self.ignore = frozenset(ignore)
        self.log_features = log_features
        self.max_categorical = max_categorical
        self.max_values = max_values
        self._values: dict[str, set[str]] = {}

    @property
    def numeric_names(self) -> tuple[str, ...]:
        """Every numeric feature the prepared dict carries (with the ``log_`` ones)."""
        if not self.log_features:
            return self.numeric
        return self.numeric + tuple(f"log_{name}" for name in self.numeric)

    def prepare(self, x: Features) -> dict[str, Any]:
        """``x`` cleaned by the rules above (a new dict; ``x`` is not changed)."""
        out: dict[str, Any] = {}
        for name in self.numeric:
            value = as_number(x.get(name))
            out[name] = value
            if self.log_features:
                out[f"log_{name}"] = None if value is None else math.log1p(max(value, 0.0))
        for key, raw in x.items():
            if key in self.ignore or key in out:
                continue
            category = self._category(key, raw)
            if category is not None:
                out[key] = category
        return out

    def _category(self, key: str, raw: object) -> str | None:
        if isinstance(raw, bool):
            text = "yes" if raw else "no"
        elif isinstance(raw, str | int):
            text = str(raw).strip()[:MAX_VALUE_CHARS]
        else:
            return None
        if not text:
            return None
        seen = self._values.get(key)
        if seen is None:
            if len(self._values) >= self.max_categorical:
                return None
            seen = self._values[key] = set()
        if text not in seen:
            if len(seen) >= self.max_values:
                return OTHER
            seen.add(text)
        return text


class NumericFeatures:
    """A fixed list of numeric features: declared, or the first example's numeric keys.

    Unsupervised models (segments, anomaly) need the same features every time: a
    missing or non-numeric value becomes ``None`` (imputed downstream), extra keys are
    ignored, and at most ``max_features`` names are kept (sorted). An example without
    any usable number gives ``None``: nothing to score or learn.

    >>> numeric = NumericFeatures()
    >>> numeric.prepare({"orders": 3, "name": "x", "spend": 9.5})
    {'orders': 3.0, 'spend': 9.5}
    >>> numeric.prepare({"orders": "n/a", "spend": 2})
    {'orders': None, 'spend': 2.0}
    >>> numeric.prepare({"orders": "n/a", "extra": 1}) is None
    True
    >>> NumericFeatures().prepare({"name": "x"}) is None
    True
    """

    def __init__(self, names: Sequence[str] | None = None, *, max_features: int = 32) -> None:
        self.names: tuple[str, ...] | None = None if names is None else tuple(names)
        self.max_features = max_features

    def prepare(self, x: Features) -> dict[str, float | None] | None:
        """The feature values of ``x``; ``None`` when it has no usable number."""
        if self.names is None:
            found = sorted(k for k, v in x.items() if as_number(v) is not None)
            if not found:
                return None
            self.names = tuple(found[: self.max_features])
        values = {name: as_number(x.get(name)) for name in self.names}
        return values if any(v is not None for v in values.values()) else None
