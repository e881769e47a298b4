"""The main job's drain: wait until the worker's group has processed everything replayed.

After the replay the job polls the group's committed offsets against the end offsets of
every topic the worker reads (:func:`streams.topics.consumed_roles`: interactions,
events, dead letters, feature snapshots, insights, drafted replies, and reply requests
when drafting is on). Progress is the records the group committed since the job started
out of those written since (the total grows while the engine derives records from records:
events from interactions, insights from events, ...), shown as a progress bar in the live
view, or as a line every few seconds with ``--quiet`` or when the output is not a terminal.

Drained means: every partition's lag is 0, and stayed 0 with the same end offsets for
``settle_s``. One poll is not enough: its end offsets are read before its commits, and a
record derived from one committed in between (an insight from an event) is written before
that commit but after the ends were read; a later poll sees it. And some records are
derived later: the features agent coalesces a customer's snapshots and sends the last one
when its ``features_snapshot_interval_s`` ends (see :func:`settle_seconds`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from streams.core.settings import Settings
from streams.lag import group_lag

POLL_S = 1.0
PLAIN_EVERY_S = 5.0
RATE_WINDOW_S = 15.0

Partition = tuple[str, int]


@dataclass(frozen=True)
class Snapshot:
    """One poll of the group: per partition, the committed offset (its start when nothing
    was committed yet) and the end offset."""

    offsets: dict[Partition, tuple[int, int]]

    @property
    def lag(self) -> int:
        """Records written and not committed yet, on every partition.

        >>> Snapshot({("t", 0): (3, 5), ("t", 1): (2, 2)}).lag
        2
        """
        return sum(max(0, end - committed) for committed, end in self.offsets.values())

    def lag_by_topic(self) -> dict[str, int]:
        """The lag summed per topic, topics with a lag only.

        >>> Snapshot({("a", 0): (3, 5), ("a", 1): (1, 2), ("b", 0): (2, 2)}).lag_by_topic()
        {'a': 3}
        """
        out: dict[str, int] = {}
        for (topic, _), (committed, end) in self.offsets.items():
            if end > committed:
                out[topic] = out.get(topic, 0) + end - committed
        return out

    def lag_text(self, prefix: str = "") -> str:
        """The lag per topic, in one line, topic names without ``prefix``.

        >>> Snapshot({("r.a", 0): (3, 5), ("r.b", 0): (0, 1200)}).lag_text("r.")
        'a 2, b 1,200'
        """
        by_topic = sorted(self.lag_by_topic().items())
        return ", ".join(f"{topic.removeprefix(prefix)} {n:,}" for topic, n in by_topic)

    def ends(self) -> dict[Partition, int]:
        return {tp: end for tp, (_, end) in self.offsets.items()}

    def processed_since(self, base: Snapshot, topic: str | None = None) -> int:
        """Records committed since ``base`` (on ``topic`` only, if given).

        >>> base = Snapshot({("a", 0): (3, 5), ("b", 0): (0, 0)})
        >>> now = Snapshot({("a", 0): (7, 7), ("b", 0): (4, 6)})
        >>> now.processed_since(base), now.processed_since(base, "a")
        (8, 4)
        """
        return sum(
            max(0, committed - base.committed(tp))
            for tp, (committed, _) in self.offsets.items()
            if topic is None or tp[0] == topic
        )

    def written_since(self, base: Snapshot) -> int:
        """Records to process since ``base``: its lag then, plus everything written since.

        >>> base = Snapshot({("a", 0): (3, 5), ("b", 0): (0, 0)})
        >>> Snapshot({("a", 0): (7, 7), ("b", 0): (4, 6)}).written_since(base)
        10
        """
        return sum(max(0, end - base.committed(tp)) for tp, (_, end) in self.offsets.items())

    def committed(self, tp: Partition) -> int:
        return self.offsets.get(tp, (0, 0))[0]


def settle_seconds(settings: Settings) -> float:
    """How long the group must stay drained: past the last deferred feature snapshot (sent
    at the first flush after its customer's snapshot interval), plus a poll.

    >>> settle_seconds(Settings(_env_file=None))
    6.5
    """
    return settings.features_snapshot_interval_s + settings.features_flush_interval_s + POLL_S


async def snapshot(settings: Settings, topics: Sequence[str]) -> Snapshot:
    """The group's committed and end offsets on ``topics`` (``RAPPORT_APP_ID``'s group)."""
    lags = await group_lag(settings, settings.app_id, list(topics), ages=False)
    return Snapshot({(p.topic, p.partition): (p.committed, p.end) for p in lags})


@dataclass(frozen=True)
class DrainResult:
    drained: bool
    last: Snapshot
    seconds: float


async def drain(
    settings: Settings,
    topics: Sequence[str],
    *,
    timeout_s: float,
    on_poll: Callable[[Snapshot], None],
    alive: Callable[[], bool],
    settle_s: float | None = None,
    poll_s: float = POLL_S,
) -> DrainResult:
    """Poll until the group is drained (see the module; ``settle_s`` defaults to
    :func:`settle_seconds`), ``timeout_s`` passes, or ``alive`` turns false (the worker
    exited: nothing will drain any more)."""
    settle = settle_seconds(settings) if settle_s is None else settle_s
    started = time.monotonic()
    quiet: tuple[float, dict[Partition, int]] | None = None  # since when, at which ends
    while True:
        current = await snapshot(settings, topics)
        on_poll(current)
        now = time.monotonic()
        if current.lag:
            quiet = None
        elif quiet is None or quiet[1] != current.ends():
            quiet = (now, current.ends())
        elif now - quiet[0] >= settle:
            return DrainResult(True, current, now - started)
        if now - started >= timeout_s or not alive():
            return DrainResult(False, current, now - started)
        await asyncio.sleep(poll_s)


class Rate:
    """Records per second over the last ``window_s`` seconds of samples, and the time left
    at that rate (a floor: the total grows while derived records are written).

    >>> r = Rate(window_s=10.0)
    >>> r.add(0.0, 0), r.add(2.0, 100), r.add(4.0, 300)
    (None, 50.0, 75.0)
    >>> r.eta(600), r.eta(0)
    (8.0, 0.0)
    """

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self.samples: deque[tuple[float, int]] = deque()
        self.per_s: float | None = None

    def add(self, at: float, done: int) -> float | None:
        self.samples.append((at, done))
        while len(self.samples) > 2 and at - self.samples[1][0] >= self.window_s:
            self.samples.popleft()
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        self.per_s = (d1 - d0) / (t1 - t0) if t1 > t0 else None
        return self.per_s

    def eta(self, remaining: int) -> float | None:
        if remaining <= 0:
            return 0.0
        return remaining / self.per_s if self.per_s else None


def clock(seconds: float | None) -> str:
    """``h:mm:ss`` (``-:--:--`` when unknown).

    >>> clock(None), clock(75.2), clock(3725)
    ('-:--:--', '0:01:16', '1:02:05')
    """
    if seconds is None:
        return "-:--:--"
    whole = math.ceil(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class DrainProgress:
    """The drain's progress: a rich bar for the live view, or plain periodic lines."""

    def __init__(
        self,
        console: Console,
        base: Snapshot,
        *,
        plain: bool,
        prefix: str = "",
        every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self.console = console
        self.base = base
        self.prefix = prefix
        self.plain = plain
        self.every_s = every_s
        self.rate = Rate()
        self.progress = Progress(
            TextColumn("[bold]processing[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("records  {task.fields[rate]}  ETA {task.fields[eta]}"),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,
        )
        self.task: TaskID = self.progress.add_task("drain", total=None, rate="", eta=clock(None))
        self._printed = 0.0

    def update(self, snap: Snapshot) -> None:
        done, total = snap.processed_since(self.base), snap.written_since(self.base)
        now = time.monotonic()
        per_s = self.rate.add(now, done)
        self.progress.update(
            self.task,
            completed=done,
            total=max(total, done),
            rate="" if per_s is None else f"{per_s:,.0f}/s",
            eta=clock(self.rate.eta(total - done)),
        )
        if self.plain and now - self._printed >= self.every_s:
            self._printed = now
            self.console.print(self.line(snap))

    def line(self, snap: Snapshot) -> str:
        """The plain progress line (--quiet, or not a terminal)."""
        task = self.progress.tasks[0]
        lag = snap.lag_text(self.prefix)
        rate = f", {task.fields['rate']}, ETA {task.fields['eta']}" if task.fields["rate"] else ""
        return (
            f"    processed {task.completed:,.0f} / {task.total or 0:,.0f} records{rate}"
            f"; lag {snap.lag:,}{f' ({lag})' if lag else ''}"
        )

    def renderable(self) -> RenderableType:
        return self.progress.get_renderable()
