"""Apply one event's fact to a customer's state: the incremental side of the definitions.

Order of the steps (the batch recomputation follows the same order):

1. all-time aggregates, always (also for late events);
2. a late event (``t < W - L``) stops here;
3. the watermark advances, expired buckets and settled entities are pruned, and
   carts that can no longer convert are counted as abandoned;
4. the event's windowed metrics and its entity (ticket, conversation, cart, or the
   carts an order converts) are updated.

Pruning only drops what no future event can change any more: a closed ticket older
than ``W - L``, a conversation with nothing pending whose latest reply is older than
``W - L``, anything older than ``W - stale_s``. So it never changes a feature. It
frees room under the caps (``Rules.max_*``): an entity that would exceed one is not
tracked and counted instead (``features.definitions``).

>>> from features.definitions import Fact
>>> state, rules = CustomerState.new(0), Rules(lateness_s=60)
>>> apply(state, Fact("other", 1_000, ((10, 1),)), rules), apply(state, Fact("other", 900), rules)
(True, False)
>>> state.wm, state.totals[10], state.totals[15]
(1000, 1, 1)
"""

from __future__ import annotations

from features.definitions import (
    CARTS_ABANDONED,
    CARTS_CONVERTED,
    CLOSED,
    EVENTS,
    INBOUND,
    LATE,
    MESSAGES_UNTRACKED,
    RESPONSE_S,
    RESPONSES,
    TICKETS_UNTRACKED,
    Fact,
    Rules,
)
from features.state import CustomerState
from features.windows import TIERS


def apply(state: CustomerState, fact: Fact, rules: Rules) -> bool:
    """Update ``state`` with ``fact``; False when it was late (all-time aggregates only)."""
    t = fact.t
    totals = state.totals
    fresh = totals[EVENTS] == 0
    totals[EVENTS] += 1
    for metric, amount in fact.metrics:
        totals[metric] += amount
    if fact.kind == "order" and (state.last_order is None or t > state.last_order):
        state.last_order = t
    if fresh:
        state.wm = state.first = t
    elif t < state.first:
        state.first = t
    if t < state.wm - rules.lateness_s:
        totals[LATE] += 1
        return False
    if t > state.wm:
        previous, state.wm = state.wm, t
        _prune(state, previous, rules)
    _add_to_windows(state, fact)
    if fact.kind == "message":
        _message(state, fact, rules)
    elif fact.kind == "ticket":
        _ticket(state, fact, rules)
    elif fact.kind == "cart":
        _cart(state, fact)
    elif fact.kind == "order":
        _order(state, fact, rules)
    return True


def _add_to_windows(state: CustomerState, fact: Fact) -> None:
    if not fact.metrics:
        return
    for tier, spec in zip(state.tiers, TIERS, strict=True):
        bucket = fact.t // spec.width
        if bucket < spec.oldest_kept(state.wm):
            continue
        values = tier.get(bucket)
        if values is None:
            values = tier[bucket] = {}
        for metric, amount in fact.metrics:
            values[metric] = values.get(metric, 0) + amount


def _prune(state: CustomerState, previous: int, rules: Rules) -> None:
    wm = state.wm
    for tier, spec in zip(state.tiers, TIERS, strict=True):
        if wm // spec.width == previous // spec.width:
            break  # coarser tiers cannot have moved either
        oldest = spec.oldest_kept(wm)
        for bucket in [b for b in tier if b < oldest]:
            del tier[bucket]
    if state.tickets or state.convs or state.carts:
        _prune_entities(state, rules)


def _prune_entities(state: CustomerState, rules: Rules) -> None:
    wm = state.wm
    settled, stale = wm - rules.lateness_s, wm - rules.stale_s
    for h in [
        h for h, (t, rank) in state.tickets.items() if t < stale or (rank == CLOSED and t < settled)
    ]:
        del state.tickets[h]
    for h, (out, pending) in list(state.convs.items()):
        kept = [i for i in pending if i >= stale] if pending and pending[0] < stale else pending
        if not kept and (out is None or out < settled):
            del state.convs[h]
        elif kept is not pending:
            state.convs[h] = (out, kept)
    horizon = wm - rules.cart_abandon_s - rules.lateness_s
    for h in [h for h, (_, last) in state.carts.items() if last < horizon]:
        del state.carts[h]
        state.totals[CARTS_ABANDONED] += 1


def _message(state: CustomerState, fact: Fact, rules: Rules) -> None:
    t, h = fact.t, fact.entity
    convs = state.convs
    out, pending = convs.get(h, (None, []))
    waits = fact.action == INBOUND and (out is None or t > out)
    if (h not in convs and len(convs) >= rules.max_conversations) or (
        waits and sum(len(p) for _, p in convs.values()) >= rules.max_pending
    ):
        state.totals[MESSAGES_UNTRACKED] += 1
        return
    if fact.action == INBOUND:
        if waits:
            convs[h] = (out, sorted([*pending, t]))
        return
    stale = state.wm - rules.stale_s
    answered = [i for i in pending if stale <= i <= t]
    if answered:
        state.totals[RESPONSES] += 1
        state.totals[RESPONSE_S] += t - answered[0]
    state.convs[h] = (t if out is None else max(out, t), [i for i in pending if i > t])


def _ticket(state: CustomerState, fact: Fact, rules: Rules) -> None:
    latest = state.tickets.get(fact.entity)
    if latest is None and len(state.tickets) >= rules.max_tickets:
        state.totals[TICKETS_UNTRACKED] += 1
    elif latest is None or (fact.t, fact.action) > latest:
        state.tickets[fact.entity] = (fact.t, fact.action)


def _cart(state: CustomerState, fact: Fact) -> None:
    span = state.carts.get(fact.entity)
    if span is None:
        state.carts[fact.entity] = (fact.t, fact.t)
    else:
        state.carts[fact.entity] = (min(span[0], fact.t), max(span[1], fact.t))


def _order(state: CustomerState, fact: Fact, rules: Rules) -> None:
    o = fact.t
    for h in [
        h for h, (first, last) in state.carts.items() if first <= o <= last + rules.cart_abandon_s
    ]:
        del state.carts[h]
        state.totals[CARTS_CONVERTED] += 1
