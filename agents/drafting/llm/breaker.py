"""A circuit breaker for the LLM: closed, open, half-open.

Closed: calls go through; ``failures`` consecutive transient failures open it.
Open: calls are refused (the caller drafts a fallback) for ``reset_s``.
Half-open: one trial call goes through, the others are refused; its success closes
the breaker, its failure opens it again for another ``reset_s``.

>>> now = [0.0]
>>> b = Breaker(failures=2, reset_s=10, clock=lambda: now[0])
>>> b.allow(); b.failure(); b.allow(); b.failure(); b.state
True
True
'open'
>>> b.allow()
False
>>> now[0] = 10.0; b.allow(), b.state, b.allow()
(True, 'half_open', False)
>>> b.success(); b.state
'closed'

Each transition sets ``rapport_llm_breaker_open`` (1 while not closed) and counts
``rapport_llm_breaker_transitions_total{state}``; the gauge is per process (a worker
has one breaker).

>>> from prometheus_client import REGISTRY
>>> def is_open() -> float | None:
...     return REGISTRY.get_sample_value("rapport_llm_breaker_open")
>>> b.failure(); b.failure(); is_open()
1.0
>>> now[0] = 20.0; b.allow(), is_open()
(True, 1.0)
>>> b.success(); is_open()
0.0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from agents.drafting.llm import metrics
from agents.drafting.metrics import BREAKER_OPEN

State = Literal["closed", "open", "half_open"]


class Breaker:
    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.clock = clock
        self.state: State = "closed"
        self.consecutive = 0
        self.opened_at = 0.0
        self.trial_out = False
        self.opened = 0
        """How many times the breaker opened (for metrics and tests)."""

    def allow(self) -> bool:
        """May a call go out now? In half-open, only the one trial may."""
        if self.state == "open" and self.clock() - self.opened_at >= self.reset_s:
            self._enter("half_open")
            self.trial_out = False
        if self.state == "closed":
            return True
        if self.state == "half_open" and not self.trial_out:
            self.trial_out = True
            return True
        return False

    def success(self) -> None:
        self._enter("closed")
        self.consecutive, self.trial_out = 0, False

    def failure(self) -> None:
        self.consecutive += 1
        if self.state == "half_open" or self.consecutive >= self.threshold:
            if self.state != "open":
                self.opened += 1
            self._enter("open")
            self.opened_at, self.trial_out = self.clock(), False

    def release(self) -> None:
        """A call that ended without telling anything about the server's health."""
        self.trial_out = False

    def _enter(self, state: State) -> None:
        if state == self.state:
            return
        self.state = state
        BREAKER_OPEN.set(0 if state == "closed" else 1)
        metrics.BREAKER_TRANSITIONS.labels(state).inc()
