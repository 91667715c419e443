"""`votectl watch`: samples of a target turned into what the live screen shows.

``Sample`` is one reading (queue stats, table count, pulse) with the time it was taken;
``WatchState`` keeps the recent ones and derives rates (in/s per queue, out/s = in/s minus the
depth's growth, stored votes/s, accepted votes/s) and each queue's depth history for a
sparkline. ``watch`` is the loop: sample, render, wait; it takes the sampler, the clock and the
wait as arguments, so a test drives it frame by frame.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from votectl.model import Pulse, QueueStat
from votectl.operations import Operations

__all__ = ["QueueView", "Sample", "WatchState", "sampler_for", "sparkline", "watch"]

HISTORY = 60  # samples kept: a minute or two of sparkline
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Sample:
    at: float  # seconds, from the watch's clock
    queues: list[QueueStat]
    table: int
    pulse: Pulse


@dataclass(frozen=True)
class QueueView:
    name: str
    dlq: bool
    depth: int
    in_per_s: float | None
    out_per_s: float | None
    oldest_age_s: float | None
    history: list[int]


def sparkline(values: list[int], width: int = 30) -> str:
    values = values[-width:]
    if not values:
        return ""
    top = max(values)
    if top == 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, v * len(_BARS) // (top + 1))] for v in values)


def _depth(q: QueueStat) -> int:
    return q.visible + q.in_flight + q.delayed


@dataclass
class WatchState:
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def _pair(self) -> tuple[Sample, Sample, float] | None:
        if len(self.samples) < 2:
            return None
        old, new = self.samples[-2], self.samples[-1]
        return (old, new, new.at - old.at) if new.at > old.at else None

    def queues(self) -> list[QueueView]:
        if not self.samples:
            return []
        new = self.samples[-1]
        pair = self._pair()
        views = []
        for q in new.queues:
            history = [
                _depth(s) for sample in self.samples for s in sample.queues if s.name == q.name
            ]
            in_rate: float | None = new.pulse.in_rate.get(q.name)
            out_rate: float | None = None
            if pair is not None:
                old, _, dt = pair
                before = next((_depth(s) for s in old.queues if s.name == q.name), _depth(q))
                if q.name in new.pulse.sent and q.name in old.pulse.sent:
                    in_rate = (new.pulse.sent[q.name] - old.pulse.sent[q.name]) / dt
                if in_rate is not None:
                    out_rate = max(0.0, in_rate - (_depth(q) - before) / dt)
            views.append(
                QueueView(
                    q.name,
                    q.dlq,
                    _depth(q),
                    in_rate,
                    out_rate,
                    new.pulse.oldest_age_s.get(q.name),
                    history,
                )
            )
        return views

    def table(self) -> tuple[int, float | None]:
        """The table count and the votes stored a second."""
        if not self.samples:
            return 0, None
        pair = self._pair()
        rate = None if pair is None else (pair[1].table - pair[0].table) / pair[2]
        return self.samples[-1].table, rate

    def write_units_per_vote(self) -> float | None:
        """The latest consumed write units per vote written (None where the target cannot
        tell: locally, or before the writer's first minute on AWS)."""
        return self.samples[-1].pulse.write_units_per_vote if self.samples else None

    def accepted(self) -> tuple[int | None, float | None]:
        """Votes accepted so far and a second (None where the target cannot tell)."""
        if not self.samples or self.samples[-1].pulse.accepted is None:
            return None, None
        pair = self._pair()
        total = self.samples[-1].pulse.accepted
        if pair is None or pair[0].pulse.accepted is None:
            return total, None
        return total, (total - pair[0].pulse.accepted) / pair[2]


def sampler_for(
    ops: Operations, clock: Callable[[], float] = time.monotonic
) -> Callable[[], Sample]:
    def sample() -> Sample:
        return Sample(clock(), ops.queue_stats(), ops.table_count().count, ops.pulse())

    return sample


def watch(
    sample: Callable[[], Sample],
    render: Callable[[WatchState], None],
    wait: Callable[[float], bool],
    interval: float = 1.0,
    frames: int | None = None,
) -> int:
    """Sample and render every ``interval`` s until ``wait`` returns True (the user pressed
    q) or ``frames`` frames were shown; returns the frames shown."""
    state = WatchState()
    shown = 0
    while frames is None or shown < frames:
        state.add(sample())
        render(state)
        shown += 1
        if (frames is None or shown < frames) and wait(interval):
            break
    return shown
