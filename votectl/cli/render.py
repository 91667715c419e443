"""Rich renderings of the operation results, shared by the commands that show them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markup import escape

from votectl.local.status import LocalStatus
from votectl.logevents import LogEvent
from votectl.model import QueueMove, QueueStat, RedriveResult, Results
from votectl.output import Fitted, table
from votectl.peek import PeekedMessage
from votectl.watch import WatchState, sparkline

if TYPE_CHECKING:
    from votectl.aws.ops import StackReport

__all__ = [
    "QUEUE_CAPTION",
    "log_line",
    "peek_table",
    "queue_table",
    "redrive_table",
    "results_table",
    "status_view",
    "watch_view",
]

QUEUE_CAPTION = "messages, not votes: a message holds one vote or a batch of them"


def results_table(results: Results, caption: str | None = None) -> Fitted:
    rows = [
        [aspect, r.votes, f"{r.mean:.2f}", *(r.scores[str(s)] for s in range(1, 6))]
        for aspect, r in results.aspects.items()
    ]
    return table(
        f"results for {results.title_id}",
        ["aspect", "votes", "mean", "1", "2", "3", "4", "5"],
        rows,
        caption=caption,
    )


def queue_table(stats: list[QueueStat]) -> Fitted:
    rows = [[s.name, s.visible, s.in_flight, s.delayed, s.source or ""] for s in stats]
    return table(
        "queues (messages)",
        ["queue", "visible", "in flight", "delayed", "DLQ of"],
        rows,
        caption=QUEUE_CAPTION,
    )


def redrive_table(result: RedriveResult) -> Fitted:
    if result.method == "dry-run":
        rows = [[m.dlq, m.source, m.would_move] for m in result.queues]
        return table("redrive --dry-run: would move", ["DLQ", "to", "messages"], rows)
    rows = [[m.dlq, m.source, m.moved, m.came_back, m.status] for m in result.queues]
    columns = ["DLQ", "to", "moved", "came back", "status"]
    notes = [_redrive_note(m) for m in result.queues]
    caption = "\n".join(note for note in notes if note) or None
    return table(f"redrive ({result.method})", columns, rows, caption=caption)


def _redrive_note(move: QueueMove) -> str | None:
    if move.status == "QUEUED":
        return f"{move.source}: no `votectl up` runs; the next one handles the {move.moved} moved"
    if move.pending:
        return f"{move.source}: {move.pending} not yet handled nor back (`votectl queue stats`)"
    return None


_COLOURS = {"receiver": "cyan", "processor": "magenta", "writer": "green"}
_LEVELS = {"WARNING": "yellow", "ERROR": "bold red"}


def log_line(event: LogEvent) -> str:
    """``12:00:01.234 receiver  INFO  message  request_id=...`` (Rich markup)."""
    when = event.time.strftime("%H:%M:%S.%f")[:-3]
    colour = _COLOURS.get(event.function, "white")
    level = event.level or ""
    ids = "".join(
        f"  [dim]{name}={escape(value)}[/]"
        for name, value in (
            ("request_id", event.request_id),
            ("correlation_id", event.correlation_id),
            ("correlation_ids", None if event.correlation_id else _ids(_listed(event.extra))),
        )
        if value
    )
    level_text = f"[{_LEVELS[level]}]{level:<7}[/]" if level in _LEVELS else f"{level:<7}"
    return (
        f"[dim]{when}[/] [{colour}]{event.function:<9}[/] {level_text} {escape(event.message)}{ids}"
    )


def peek_table(messages: list[PeekedMessage]) -> Fitted:
    rows = []
    for m in messages:
        first = m.sample[0] if m.sample else None
        vote = (
            f"{first['user_id']} {first['title_id']} {first['aspect']}={first['score']}"
            if first
            else ""
        )
        rows.append(
            [
                m.queue,
                m.message_id,
                m.votes,
                vote,
                _ids(m.correlation_ids),
                m.receive_count,
                f"{m.age_s:.0f}s",
                m.problem or "",
            ]
        )
    columns = ["queue", "message", "votes", "first vote", "ids", "receives", "age", "problem"]
    return table(f"{len(messages)} messages (left in place)", columns, rows)


def _ids(ids: list[str]) -> str:
    """The first correlation id whole, and how many more (--json lists them all)."""
    if not ids:
        return ""
    return ids[0] if len(ids) == 1 else f"{ids[0]} +{len(ids) - 1} more"


def _listed(extra: dict[str, Any]) -> list[str]:
    """A batch line's correlation ids (``correlation_ids``: the requests its votes came in)."""
    ids = extra.get("correlation_ids")
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _age(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}s"


def watch_view(state: WatchState, title: str) -> Group:
    """The live screen: each queue's depth, rates, sparkline and oldest message; the table."""
    rows = [
        [
            q.name,
            q.depth,
            _rate(q.in_per_s),
            _rate(q.out_per_s),
            sparkline(q.history),
            _age(q.oldest_age_s),
        ]
        for q in state.queues()
    ]
    queues = table(
        title, ["queue (messages)", "depth", "in/s", "out/s", "depth, recent", "oldest"], rows
    )
    count, stored = state.table()
    accepted, per_s = state.accepted()
    said = f"table: {count:,} votes ({_rate(stored)}/s stored)"
    if accepted is not None:
        said += f"   accepted: {accepted:,} votes ({_rate(per_s)}/s)"
    units = state.write_units_per_vote()
    if units is not None:
        said += f"   write units/vote: {units:.2f} (last minute)"
    return Group(queues, said, "[dim]q or Ctrl-C leaves[/]")


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
        [[count.table, f"{count.count:,}"]],
        caption="DescribeTable's count, refreshed about every 6 hours;"
        " `votectl table count --exact` counts",
    )
    return Group(head, functions, queue_table(report.queues), votes)
