"""Product recommendations from co-occurrence, updated per order, cart or page view.

Implicit feedback (a view, a cart add, an order) has no rating to regress on, so
River's ``reco`` matrix factorisation does not fit; item-to-item co-occurrence does,
and learns in O(history) per event. ``learn_one(x)`` reads ``x = {"customer_id",
"product_id", "kind"}`` (``kind``: ``order`` weighs 3, ``cart`` 2, anything else 1):

- item popularity gains the weight;
- the item and each distinct item of the customer's recent history (the last
  ``history`` items) gain the weight on their co-occurrence counts, both ways.

``predict_one({"customer_id"})`` scores items co-occurring with the customer's
history (recent items count more), excluding items already in it, and falls back on
popularity for a new customer. The value is the best item id; the explanation lists
the top ``k`` and the source. Bounded memory: ``max_neighbours`` co-occurring items
per item (the weakest are pruned), ``max_customers`` histories (least recently active
evicted), ``max_items`` items (past it the least popular tenth is forgotten, with its
co-occurrence row). ``forget(customer_id)`` erases a history.

>>> model = Recommender(k=2)
>>> for customer, item in [("a", "tent"), ("a", "stove"), ("b", "tent"), ("b", "stove"),
...                        ("c", "tent")]:
...     _ = model.learn_one({"customer_id": customer, "product_id": item, "kind": "order"})
>>> model.predict_one({"customer_id": "c"}).value
'stove'
>>> model.predict_one({"customer_id": "new"}).explanation["source"]
'popularity'
>>> model.forget("c"), model.learn_one({"customer_id": "c"})
(1, False)
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, defaultdict, deque
from typing import Any, ClassVar, Final

from online_models.base import Features, OnlineModel, Prediction

KIND_WEIGHTS: Final = {"order": 3.0, "cart": 2.0}
Counts = dict[str, float]
MAX_ID_CHARS: Final = 128


def _top(counts: Counts, k: int) -> list[str]:
    """The ``k`` keys with the largest counts (ties: smallest key first).

    The ``k``-th largest count is found on the bare values (no key function per item),
    then only the keys at or above it are sorted.

    >>> _top({"a": 1.0, "b": 3.0, "c": 3.0, "d": 2.0}, 2)
    ['b', 'c']
    """
    if len(counts) <= k:
        return sorted(counts, key=lambda key: (-counts[key], key))
    cut = heapq.nlargest(k, counts.values())[-1]
    best = [key for key, count in counts.items() if count >= cut]
    best.sort(key=lambda key: (-counts[key], key))
    return best[:k]


def _id(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        return None
    return value


class Recommender(OnlineModel):
    """Item co-occurrence with a popularity fallback (see the module docstring)."""

    name: ClassVar[str] = "reco"
    max_items: int = 10_000
    """Items kept (a class default too: models checkpointed before it existed load)."""

    def __init__(
        self,
        *,
        k: int = 5,
        history: int = 20,
        max_neighbours: int = 100,
        max_customers: int = 100_000,
        max_items: int = 10_000,
    ) -> None:
        super().__init__()
        self.max_items = max_items
        self.k = k
        self.history = history
        self.max_neighbours = max_neighbours
        self.max_customers = max_customers
        self.popularity: Counts = defaultdict(float)
        self.together: dict[str, Counts] = {}
        self.histories: OrderedDict[str, deque[str]] = OrderedDict()

    def recommend(self, customer_id: str, k: int | None = None) -> tuple[list[str], str]:
        """The top ``k`` item ids for a customer and where they came from."""
        k = self.k if k is None else k
        seen = self.histories.get(customer_id, deque())
        together = self.together
        scores: Counts = {}
        get = scores.get
        for age, item in enumerate(reversed(seen)):
            row = together.get(item)
            if not row:
                continue
            recency = 1.0 / (1.0 + age)
            for other, count in row.items():
                scores[other] = get(other, 0.0) + recency * count
        for item in seen:
            scores.pop(item, None)
        if scores:
            return _top(scores, k), "co-occurrence"
        ranked = _top(self.popularity, k + len(seen))
        return [item for item in ranked if item not in seen][:k], "popularity"

    def predict_one(self, x: Features) -> Prediction:
        customer = _id(x.get("customer_id")) or ""
        items, source = self.recommend(customer)
        if not items:
            return Prediction.abstain("no item learned yet")
        share = len(self.histories.get(customer, ())) / self.history
        explanation = {"items": items, "source": source}
        return Prediction(items[0], round(min(1.0, share), 6), explanation)

    def _learn(self, x: Features, y: Any) -> bool:
        del y
        customer, item = _id(x.get("customer_id")), _id(x.get("product_id"))
        if customer is None or item is None:
            return False
        weight = KIND_WEIGHTS.get(str(x.get("kind", "")), 1.0)
        self.popularity[item] += weight
        if len(self.popularity) > self.max_items:
            self._forget_items()
        seen = self._history(customer)
        for other in set(seen):
            if other != item:
                self._bump(item, other, weight)
                self._bump(other, item, weight)
        if not seen or seen[-1] != item:
            seen.append(item)
        return True

    def _forget_items(self) -> None:
        """Drop the least popular tenth of the items and their co-occurrence rows."""
        popularity = self.popularity
        least = heapq.nsmallest(self.max_items // 10 or 1, popularity.items(), key=lambda kv: kv[1])
        for old, _ in least:
            del popularity[old]
            self.together.pop(old, None)

    def _history(self, customer: str) -> deque[str]:
        seen = self.histories.get(customer)
        if seen is None:
            seen = self.histories[customer] = deque(maxlen=self.history)
            if len(self.histories) > self.max_customers:
                self.histories.popitem(last=False)
        else:
            self.histories.move_to_end(customer)
        return seen

    def _bump(self, item: str, other: str, weight: float) -> None:
        if item not in self.popularity:  # forgotten (``max_items``), still in a history
            return
        counts = self.together.setdefault(item, defaultdict(float))
        counts[other] += weight
        if len(counts) > 2 * self.max_neighbours:
            keep = _top(counts, self.max_neighbours)
            self.together[item] = defaultdict(float, {key: counts[key] for key in keep})

    def forget(self, customer_id: str) -> int:
        return 1 if self.histories.pop(customer_id, None) is not None else 0
