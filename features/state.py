"""One customer's feature state, and its compact encoding (one table value per customer).

The value is an orjson array; times are stored relative to the watermark ``W`` (so
most numbers are short), except the buckets, kept as they are in memory (encoding
them is then a single C call: the state is written once per event):

``[version, partition, offset, W, W - first, erased_at, W - last_order, totals,
tiers, tickets, conversations, carts, models]``

- ``partition``/``offset``: the last applied record of the ``events`` topic, the
  idempotence key (a customer's events all live in one partition, in order);
- bounded: tickets, conversations and pending messages are capped
  (``Rules.max_*``, see ``features.definitions``), so a hot customer's value too;
- ``totals``: the all-time counters (``features.definitions``), trailing zeros cut;
- ``tiers``: per tier, ``{bucket: {metric: value}}`` (bucket = ``t // width``);
- ``tickets``: flat ``[hash, age, rank, ...]``; ``carts``: flat ``[hash, age of
  first, age of last, ...]``; ``conversations``: ``[[hash, age of the latest
  outbound message or -1, [ages of pending inbound messages]], ...]``.

>>> s = CustomerState.new(partition=3)
>>> s.wm, s.first, s.offset = 1_000, 1_000, 41
>>> s.totals[0] = 2
>>> s.tiers[0][3] = {0: 2}
>>> raw = s.to_bytes()
>>> raw
b'[2,3,41,1000,0,null,null,[2],[{"3":{"0":2}},{},{}],[],[],[],{}]'
>>> back = CustomerState.from_bytes(raw)
>>> back.to_bytes() == raw, back.tiers[0]
(True, {3: {0: 2}})
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from features.definitions import N_TOTALS, ORDERS_OTHER
from features.windows import TIERS

VERSION: Final = 2
"""2: metric 13 (orders in another currency) inserted in the totals; 1 is read too."""
END: Final = -1


class StateError(ValueError):
    """A table value that is not a feature state of a known version."""


class CustomerState:
    """Mutable working copy of one customer's state (see the module docstring)."""

    __slots__ = (
        "carts",
        "convs",
        "erased_at",
        "first",
        "last_order",
        "models",
        "offset",
        "partition",
        "tickets",
        "tiers",
        "totals",
        "wm",
    )

    def __init__(self) -> None:
        self.partition = 0
        self.offset = -1
        self.wm = 0
        self.first = 0
        self.erased_at: int | None = None
        self.last_order: int | None = None
        self.totals = [0] * N_TOTALS
        self.tiers: list[dict[int, dict[int, int]]] = [{} for _ in TIERS]
        self.tickets: dict[int, tuple[int, int]] = {}
        self.convs: dict[int, tuple[int | None, list[int]]] = {}
        self.carts: dict[int, tuple[int, int]] = {}
        self.models: dict[str, float] = {}

    @classmethod
    def new(cls, partition: int, erased_at: int | None = None) -> CustomerState:
        state = cls()
        state.partition = partition
        state.erased_at = erased_at
        return state

    # --- encoding
    def to_bytes(self) -> bytes:
        wm = self.wm
        totals = self.totals[:]
        while totals and totals[-1] == 0:
            totals.pop()
        tickets: list[int] = []
        for h, (t, rank) in self.tickets.items():
            tickets += (h, wm - t, rank)
        carts: list[int] = []
        for h, (first, last) in self.carts.items():
            carts += (h, wm - first, wm - last)
        return orjson.dumps(
            [
                VERSION,
                self.partition,
                self.offset,
                wm,
                wm - self.first,
                self.erased_at,
                None if self.last_order is None else wm - self.last_order,
                totals,
                self.tiers,
                tickets,
                [
                    [h, END if out is None else wm - out, [wm - i for i in pending]]
                    for h, (out, pending) in self.convs.items()
                ],
                carts,
                self.models,
            ],
            option=orjson.OPT_NON_STR_KEYS,
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> CustomerState:
        try:
            data = orjson.loads(raw)
            if not isinstance(data, list) or data[0] not in (1, VERSION):
                raise StateError(f"not a version {VERSION} feature state: {raw[:40]!r}")
            return cls._from_list(data)
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"corrupt feature state ({exc}): {raw[:40]!r}") from exc

    @classmethod
    def _from_list(cls, data: list[Any]) -> CustomerState:
        s = cls()
        (
            _,
            s.partition,
            s.offset,
            wm,
            first_age,
            s.erased_at,
            order_age,
            totals,
            tiers,
            tickets,
            convs,
            carts,
            models,
        ) = data
        s.wm, s.first = wm, wm - first_age
        s.last_order = None if order_age is None else wm - order_age
        if data[0] == 1 and len(totals) > ORDERS_OTHER:
            totals = [*totals[:ORDERS_OTHER], 0, *totals[ORDERS_OTHER:]]
        s.totals[: len(totals)] = totals
        s.tiers = [
            {int(b): {int(m): v for m, v in values.items()} for b, values in tier.items()}
            for tier in tiers
        ]
        if len(s.tiers) != len(TIERS):
            raise StateError(f"expected {len(TIERS)} tiers, got {len(s.tiers)}")
        s.tickets = {
            tickets[k]: (wm - tickets[k + 1], tickets[k + 2]) for k in range(0, len(tickets), 3)
        }
        s.convs = {
            h: (None if out == END else wm - out, [wm - i for i in pending])
            for h, out, pending in convs
        }
        s.carts = {
            carts[k]: (wm - carts[k + 1], wm - carts[k + 2]) for k in range(0, len(carts), 3)
        }
        s.models = {str(k): float(v) for k, v in models.items()}
        return s
