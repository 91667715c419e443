"""The operations on the local target: they read the data dir's SQLite files directly, so
they work whether or not `votectl up` is running, and on a read-only data dir. An error about a
file names it (``DamagedFile``, ``ReadOnlyDataDir``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from votectl.errors import UsageError
from votectl.local.db import ReadOnlyDataDir, naming, writable
from votectl.local.layout import Layout
from votectl.local.queue import SqliteQueue
from votectl.local.table import SqliteVoteTable
from votectl.model import QueueMove, QueueStat, RedriveResult, Results, TableCount
from votectl.ops import Progress

__all__ = ["LocalOperations"]

QUEUES = ("votes", "ready")
T = TypeVar("T")


class LocalOperations:
    def __init__(self, data_dir: str) -> None:
        self.layout = Layout.of(data_dir)

    def _read_only(self) -> bool:
        return not writable(self.layout.require().root)

    def _queue_path(self, name: str) -> Path:
        return self.layout.require().votes_db if name == "votes" else self.layout.ready_db

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

    def results(self, title_id: str) -> Results:
        return self._read_table(lambda table: table.results(title_id))

    def redrive(
        self,
        queue: str | None = None,
        max_per_second: int | None = None,
        cancel: bool = False,
        on_progress: Progress | None = None,
    ) -> RedriveResult:
        """Move DLQ messages back to their source queue, in one transaction per queue.

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
        if self._read_only():
            raise ReadOnlyDataDir(f"cannot redrive: {self.layout.root} is read-only")
        moves = []
        for name in names:
            path = self._queue_path(name)
            with naming(path):
                q = SqliteQueue(path, name)
                try:
                    moved = q.redrive()
                finally:
                    q.close()
            if on_progress:
                on_progress(f"{name}-dlq -> {name}", moved, moved)
            moves.append(QueueMove(dlq=f"{name}-dlq", source=name, moved=moved))
        return RedriveResult(moved=sum(m.moved for m in moves), method="local", queues=moves)
