"""The operations on the local target: they read the data dir's SQLite files directly, so
they work whether or not `votectl up` is running."""

from __future__ import annotations

from votectl.errors import UsageError
from votectl.local.layout import Layout
from votectl.local.queue import SqliteQueue
from votectl.local.status import LocalStatus, read_status
from votectl.local.table import SqliteVoteTable
from votectl.model import QueueMove, QueueStat, RedriveResult, Results, TableCount
from votectl.ops import Progress

__all__ = ["LocalOperations"]

QUEUES = ("votes", "ready")


class LocalOperations:
    def __init__(self, data_dir: str) -> None:
        self.layout = Layout.of(data_dir)

    def _queue(self, name: str) -> SqliteQueue:
        path = self.layout.require().votes_db if name == "votes" else self.layout.ready_db
        return SqliteQueue(path, name)

    def queue_stats(self) -> list[QueueStat]:
        stats: list[QueueStat] = []
        for name in QUEUES:
            queue = self._queue(name)
            try:
                stats.extend(queue.stats())
            finally:
                queue.close()
        return stats

    def table_count(self, exact: bool = False, on_progress: Progress | None = None) -> TableCount:
        table = SqliteVoteTable(self.layout.require().table_db)
        try:
            return TableCount(table=table.name, count=table.count(), exact=True)
        finally:
            table.close()

    def top_title(self) -> str | None:
        """The title with the most votes, if any."""
        table = SqliteVoteTable(self.layout.require().table_db)
        try:
            return table.top_title()
        finally:
            table.close()

    def status(self) -> LocalStatus:
        """Whether `votectl up` runs here, and what it holds; no data yet is not an error."""
        if not self.layout.table_db.exists():
            return read_status(self.layout, [], None)
        return read_status(self.layout, self.queue_stats(), self.table_count())

    def results(self, title_id: str) -> Results:
        table = SqliteVoteTable(self.layout.require().table_db)
        try:
            return table.results(title_id)
        finally:
            table.close()

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
        moves = []
        for name in names:
            q = self._queue(name)
            try:
                moved = q.redrive()
            finally:
                q.close()
            if on_progress:
                on_progress(f"{name}-dlq -> {name}", moved, moved)
            moves.append(QueueMove(dlq=f"{name}-dlq", source=name, moved=moved))
        return RedriveResult(moved=sum(m.moved for m in moves), method="local", queues=moves)
