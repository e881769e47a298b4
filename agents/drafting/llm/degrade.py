"""Lag-aware degradation of drafting, with hysteresis.

The rule: the reply-request lag of this worker is the sum over its partitions of
the records behind the one being drafted (high watermark - offset - 1). When it
reaches ``degrade_at``, drafting switches to the cheap mode (shorter outputs,
templates for low-priority intents); it switches back once the lag is at or below
``recover_at``. The gap between the two keeps the mode from flapping.

>>> d = Degrader(degrade_at=100, recover_at=20)
>>> [d.observe(p, lag) for p, lag in ((0, 60), (1, 50), (0, 30), (1, 0), (0, 10))]
['normal', 'cheap', 'cheap', 'cheap', 'normal']
"""

from __future__ import annotations

import logging

from agents.drafting.llm.drafter import Mode

log = logging.getLogger(__name__)


class Degrader:
    def __init__(self, degrade_at: int, recover_at: int) -> None:
        self.degrade_at = degrade_at
        self.recover_at = min(recover_at, degrade_at - 1)
        self.lags: dict[int, int] = {}
        self.mode: Mode = "normal"
        self.switches = 0

    @property
    def lag(self) -> int:
        return sum(self.lags.values())

    def observe(self, partition: int, lag: int) -> Mode:
        """Record one partition's lag; return the mode for the request at hand."""
        self.lags[partition] = max(0, lag)
        total = self.lag
        if self.mode == "normal" and total >= self.degrade_at:
            self.mode, self.switches = "cheap", self.switches + 1
            log.warning("drafting: lag %d >= %d, cheap mode on", total, self.degrade_at)
        elif self.mode == "cheap" and total <= self.recover_at:
            self.mode, self.switches = "normal", self.switches + 1
            log.info("drafting: lag %d <= %d, cheap mode off", total, self.recover_at)
        return self.mode

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.lags.pop(partition, None)
