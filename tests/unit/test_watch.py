"""`votectl watch`'s state and loop, driven frame by frame with an injected sampler and clock."""

from __future__ import annotations

from rich.console import Console

from votectl.cli.render import watch_view
from votectl.model import Pulse, QueueStat
from votectl.watch import Sample, WatchState, sparkline, watch


def sample(at: float, votes: int, dlq: int, table: int, sent: int, accepted: int | None) -> Sample:
    queues = [
        QueueStat("votes", votes, 0, 0, False),
        QueueStat("votes-dlq", dlq, 0, 0, True, "votes"),
    ]
    pulse = Pulse(
        accepted=accepted, oldest_age_s={"votes": 2.0, "votes-dlq": None}, sent={"votes": sent}
    )
    return Sample(at, queues, table, pulse)


def test_rates_come_from_two_samples() -> None:
    state = WatchState()
    state.add(sample(0.0, votes=10, dlq=0, table=100, sent=50, accepted=1000))
    assert state.queues()[0].in_per_s is None and state.table() == (100, None)
    state.add(sample(2.0, votes=14, dlq=1, table=140, sent=70, accepted=1400))
    votes = state.queues()[0]
    assert (votes.depth, votes.in_per_s, votes.out_per_s) == (14, 10.0, 8.0)  # 20 in, +4 kept
    assert votes.oldest_age_s == 2.0 and votes.history == [10, 14]
    assert state.queues()[1].in_per_s is None  # nothing says what a DLQ took in
    assert state.table() == (140, 20.0)
    assert state.accepted() == (1400, 200.0)


def test_sparkline_scales_to_the_highest_value() -> None:
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([0, 5, 10]) == "▁▄█"
    assert len(sparkline(list(range(100)), width=30)) == 30


def test_the_loop_stops_on_q_and_after_frames() -> None:
    clock = iter(range(100))
    feed = lambda: sample(float(next(clock)), 1, 0, 0, 0, None)  # noqa: E731
    shown: list[str] = []
    console = Console(width=120, record=True)

    def render(state: WatchState) -> None:
        console.print(watch_view(state, "t"))
        shown.append(console.export_text())

    keys = iter([False, False, True])  # q on the third wait
    assert watch(feed, render, lambda s: next(keys), interval=1.0) == 3
    assert "votes-dlq" in shown[-1] and "q or Ctrl-C leaves" in shown[-1]
    assert "accepted" not in shown[-1]  # a target that cannot tell says nothing
    waits: list[float] = []
    assert watch(feed, render, lambda s: bool(waits.append(s)), interval=0.5, frames=2) == 2
    assert waits == [0.5]
