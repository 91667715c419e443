"""Rich renderings of the operation results, shared by the commands that show them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table

from votectl.local.status import LocalStatus
from votectl.model import QueueStat, Results
from votectl.output import table

if TYPE_CHECKING:
    from votectl.aws.ops import StackReport

__all__ = ["QUEUE_CAPTION", "queue_table", "results_table", "status_view"]

QUEUE_CAPTION = "messages, not votes: a message holds one vote or a batch of them"


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
    return table(
        "queues (messages)",
        ["queue", "visible", "in flight", "delayed", "DLQ of"],
        rows,
        caption=QUEUE_CAPTION,
    )


def status_view(report: Any) -> RenderableType:
    """`votectl status`: what runs on the local stage, or the AWS stack."""
    if isinstance(report, LocalStatus):
        return _local_status(report)
    return _stack_status(report)


def _local_status(s: LocalStatus) -> RenderableType:
    if not s.running:
        state = f"local: not running (data dir {s.data_dir}); start it with `votectl up`"
    else:
        state = f"local: running at {s.url}/votes (data dir {s.data_dir})"
    parts: list[RenderableType] = [state]
    if s.running:
        restarts = "" if s.restarts is None else f"; children restarted: {s.restarts}"
        parts.append(f"supervisor pid {s.pid}{restarts}")
        rows = [[c.name, c.pid, "running" if c.alive else "DEAD"] for c in s.children]
        parts.append(table("processes", ["process", "pid", "state"], rows))
    if s.table is None:
        parts.append("no pipeline data yet")
    else:
        parts.append(queue_table(s.queues))
        parts.append(table("table", ["table", "votes"], [[s.table.table, f"{s.table.count:,}"]]))
    return Group(*parts)


def _stack_status(report: StackReport) -> RenderableType:
    head = table(
        f"{report.stack} ({report.region})",
        ["", ""],
        [["status", report.status], ["endpoint", report.endpoint_url or "(not reported)"]],
    )
    functions = table(
        "functions",
        ["function", "runtime", "arch", "code sha256"],
        [[f.function_name, f.runtime, f.architecture, f.code_sha256] for f in report.functions],
    )
    count = report.table
    votes = table(
        "table",
        ["table", "votes (approximate)"],
        [[count.table, f"{count.count:,}  (DescribeTable; refreshes about every 6 hours)"]],
    )
    return Group(head, functions, queue_table(report.queues), votes)
