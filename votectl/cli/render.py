"""Rich renderings of the operation results, shared by the commands that show them."""

from __future__ import annotations

from rich.table import Table

from votectl.model import QueueStat, RedriveResult, Results
from votectl.output import table

__all__ = ["queue_table", "redrive_table", "results_table"]


def results_table(results: Results) -> Table:
    rows = [
        [aspect, r.votes, f"{r.mean:.2f}", *(r.scores[str(s)] for s in range(1, 6))]
        for aspect, r in results.aspects.items()
    ]
    return table(
        f"results for {results.title_id}",
        ["aspect", "votes", "mean", "1", "2", "3", "4", "5"],
        rows,
    )


def queue_table(stats: list[QueueStat]) -> Table:
    rows = [[s.name, s.visible, s.in_flight, s.delayed, s.source or ""] for s in stats]
    return table("queues", ["queue", "visible", "in flight", "delayed", "DLQ of"], rows)


def redrive_table(result: RedriveResult) -> Table:
    if result.method == "dry-run":
        rows = [[m.dlq, m.source, m.would_move] for m in result.queues]
        return table("redrive --dry-run: would move", ["DLQ", "to", "messages"], rows)
    rows = [[m.dlq, m.source, m.moved, m.came_back, m.status] for m in result.queues]
    columns = ["DLQ", "to", "moved", "came back", "status"]
    return table(f"redrive ({result.method})", columns, rows)
