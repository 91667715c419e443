"""The operations both targets expose (a Protocol) and helpers over them, so a CLI command never
branches on the target. Below the targets: it imports neither; `votectl.targets` chooses one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from votectl.errors import PipelineFailed
from votectl.logevents import LogEvent, LogQuery
from votectl.model import Pulse, QueueStat, RedriveResult, Results, TableCount
from votectl.peek import PeekedMessage
from votectl.probe import Probe

__all__ = ["Operations", "Progress", "Report", "drain", "wait_for"]

# on_progress(what, done, total or None): long operations report through it; the CLI draws it.
Progress = Callable[[str, int, int | None], None]


class Report(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class Operations(Protocol):
    def status(self) -> Report: ...

    def queue_stats(self) -> list[QueueStat]: ...

    def table_count(
        self, exact: bool = False, on_progress: Progress | None = None
    ) -> TableCount: ...

    def results(self, title_id: str) -> Results: ...

    def redrive(
        self,
        queue: str | None = None,
        max_per_second: int | None = None,
        cancel: bool = False,
        on_progress: Progress | None = None,
        dry_run: bool = False,
    ) -> RedriveResult: ...

    def peek(self, queues: Sequence[str], count: int) -> list[PeekedMessage]:
        """Up to ``count`` messages of each queue, left where they were."""
        ...

    def pulse(self) -> Pulse:
        """Accepted votes, oldest message ages and inflow, for the live view."""
        ...

    def logs(self, query: LogQuery, follow: bool = False) -> Iterator[LogEvent]:
        """The handlers' log events, interleaved by time; with ``follow``, until interrupted."""
        ...

    def probe(self, token: str | None) -> Probe:
        """What `votectl canary` sends, reads and deletes through (``token``: for the front
        door of a stage with auth jwt)."""
        ...


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``predicate`` until it holds; PipelineFailed naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise PipelineFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def drain(ops: Operations, timeout: float = 120.0, interval: float = 0.02) -> float:
    """Wait until the source queues (not the DLQs) hold nothing; returns the seconds it took."""
    start = time.monotonic()

    def empty() -> bool:
        return all(q.visible + q.in_flight + q.delayed == 0 for q in ops.queue_stats() if not q.dlq)

    wait_for(empty, timeout, "the queues to drain", interval)
    return time.monotonic() - start
