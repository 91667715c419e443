"""The operations on the local target: they read the data dir's SQLite files directly, so
they work whether or not `votectl up` is running, and on a read-only data dir. An error about a
file names it (``DamagedFile``, ``ReadOnlyDataDir``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from votectl.errors import UsageError
from votectl.local.canary import LocalProbe
from votectl.local.db import ReadOnlyDataDir, naming, writable
from votectl.local.layout import Layout
from votectl.local.logfiles import read_logs
from votectl.local.queue import SqliteQueue
from votectl.local.status import LocalStatus, read_status
from votectl.local.table import SqliteVoteTable
from votectl.logevents import LogEvent, LogQuery
from votectl.model import Pulse, QueueMove, QueueStat, RedriveResult, Results, TableCount
from votectl.operations import Progress
from votectl.peek import PeekedMessage, peeked

__all__ = ["LocalOperations"]

QUEUES = ("votes", "ready")
# How long a redrive waits for its messages to be handled or come back: a message a consumer
# fails comes back after max-receive-count visibility timeouts (3 x 30 s by default).
REDRIVE_WAIT_SECONDS = 120.0
REDRIVE_POLL_SECONDS = 0.2
T = TypeVar("T")


class LocalOperations:
    def __init__(self, data_dir: str) -> None:
        self.layout = Layout.of(data_dir)

    def _read_only(self) -> bool:
        return not writable(self.layout.require().root)

    def _queue_path(self, name: str) -> Path:
        return self.layout.require().votes_db if name == "votes" else self.layout.ready_db

    def _queue(self, name: str) -> SqliteQueue:
        """A queue opened to read (peek, pulse): read-only where the data dir is."""
        return SqliteQueue(self._queue_path(name), name, read_only=self._read_only())

    def queue_stats(self) -> list[QueueStat]:
        stats: list[QueueStat] = []
        for name in QUEUES:
            path = self._queue_path(name)
            with naming(path):
                queue = SqliteQueue(path, name, read_only=self._read_only())
                try:
                    stats.extend(queue.stats())
                finally:
                    queue.close()
        return stats

    def _read_table(self, read: Callable[[SqliteVoteTable], T]) -> T:
        path = self.layout.require().table_db
        with naming(path):
            table = SqliteVoteTable(path, read_only=self._read_only())
            try:
                return read(table)
            finally:
                table.close()

    def table_count(self, exact: bool = False, on_progress: Progress | None = None) -> TableCount:
        count = self._read_table(SqliteVoteTable.count)
        return TableCount(table=SqliteVoteTable.name, count=count, exact=True)

    def top_title(self) -> str | None:
        """The title with the most votes, if any."""
        return self._read_table(SqliteVoteTable.top_title)

    def status(self) -> LocalStatus:
        """Whether `votectl up` runs here, and what it holds; no data yet is not an error."""
        if not self.layout.table_db.exists():
            return read_status(self.layout, [], None)
        return read_status(self.layout, self.queue_stats(), self.table_count())

    def results(self, title_id: str) -> Results:
        return self._read_table(lambda table: table.results(title_id))

    def logs(self, query: LogQuery, follow: bool = False) -> Iterator[LogEvent]:
        return read_logs(self.layout.require().logs_dir, query, follow)

    def probe(self, token: str | None) -> LocalProbe:
        return LocalProbe(self.layout, token)

    def peek(self, queues: Sequence[str], count: int) -> list[PeekedMessage]:
        """Up to ``count`` messages of each queue named, changing nothing (see SqliteQueue.peek)."""
        found: list[PeekedMessage] = []
        now = int(time.time() * 1000)
        for name in queues:
            q = self._queue(name.removesuffix("-dlq"))
            try:
                rows = q.peek(name.endswith("-dlq"), count)
            finally:
                q.close()
            found += [peeked(name, i, body, sent, n, now) for i, body, sent, n in rows]
        return found

    def pulse(self) -> Pulse:
        accepted: int | None = None  # None: no `votectl up` running here
        accepted_at: float | None = None
        try:
            status = json.loads(self.layout.status_file.read_text())
            accepted, accepted_at = int(status["accepted"]), float(status["at"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        ages: dict[str, float | None] = {}
        sent: dict[str, int] = {}
        for name in QUEUES:
            q = self._queue(name)
            try:
                sent[name] = q.sent_total()
                for dlq in (False, True):
                    oldest = q.peek(dlq, 1)
                    queue = f"{name}-dlq" if dlq else name
                    ages[queue] = (time.time() * 1000 - oldest[0][2]) / 1000 if oldest else None
            finally:
                q.close()
        return Pulse(accepted=accepted, accepted_at=accepted_at, oldest_age_s=ages, sent=sent)

    def redrive(
        self,
        queue: str | None = None,
        max_per_second: int | None = None,
        cancel: bool = False,
        on_progress: Progress | None = None,
        dry_run: bool = False,
    ) -> RedriveResult:
        """Move DLQ messages back to their source queue, in one transaction per queue; then,
        while a `votectl up` consumes them, wait (at most ``REDRIVE_WAIT_SECONDS``) until each
        is handled or back in its DLQ, as the AWS target reports those that came back.

        Locally a move is instant, so there is no rate to cap and no task to cancel.
        """
        if cancel:
            raise UsageError(
                "nothing to cancel: a local redrive completes at once",
                hint="--cancel stops a running move task on an AWS stage",
            )
        names = QUEUES if queue is None else (queue.removesuffix("-dlq"),)
        if not set(names) <= set(QUEUES):
            raise UsageError(
                f"unknown queue {queue!r}", hint="queues: votes, ready (or their -dlq)"
            )
        if dry_run:
            depth = {q.name: q.visible + q.in_flight + q.delayed for q in self.queue_stats()}
            moves = [
                QueueMove(f"{n}-dlq", n, 0, "DRY_RUN", would_move=depth[f"{n}-dlq"]) for n in names
            ]
            return RedriveResult(0, "dry-run", moves)
        if self._read_only():
            raise ReadOnlyDataDir(f"cannot redrive: {self.layout.root} is read-only")
        moved: dict[str, list[int]] = {}
        for name in names:
            path = self._queue_path(name)
            with naming(path):
                q = SqliteQueue(path, name)
                try:
                    moved[name] = q.redrive_ids()
                finally:
                    q.close()
            if on_progress:
                on_progress(f"{name}-dlq -> {name}", len(moved[name]), len(moved[name]))
        consumed = self.layout.is_running()
        moves = [self._outcome(name, ids, consumed, on_progress) for name, ids in moved.items()]
        return RedriveResult(moved=sum(m.moved for m in moves), method="local", queues=moves)

    def _outcome(
        self, name: str, ids: list[int], consumed: bool, on_progress: Progress | None
    ) -> QueueMove:
        """Where the redriven messages went: waited for while a consumer runs; else QUEUED
        (they wait for the next `votectl up`)."""
        if not ids or not consumed:
            status = "QUEUED" if ids else "COMPLETED"
            return QueueMove(f"{name}-dlq", name, len(ids), status, pending=len(ids) * consumed)
        path = self._queue_path(name)
        what = f"{name}: redriven messages handled or back in the DLQ"
        deadline = time.monotonic() + REDRIVE_WAIT_SECONDS
        with naming(path):
            q = SqliteQueue(path, name)
            try:
                while True:
                    done, back, queued = q.whereabouts(ids)
                    if on_progress:
                        on_progress(what, done + back, len(ids))
                    if not queued or time.monotonic() > deadline:
                        break
                    time.sleep(REDRIVE_POLL_SECONDS)
            finally:
                q.close()
        status = "COMPLETED" if not queued else "WAITED"
        return QueueMove(f"{name}-dlq", name, len(ids), status, came_back=back, pending=queued)
