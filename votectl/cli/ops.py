"""`votectl queue stats`, `table count`, `results`, `redrive`: the same on every target."""

from __future__ import annotations

from typing import Annotated

import typer

from votectl.cli.options import JsonOut, with_stage
from votectl.cli.render import peek_table, queue_table, redrive_table, results_table
from votectl.config import Stage
from votectl.errors import NoVotes, PipelineFailed, UsageError
from votectl.model import queue_stats_json
from votectl.output import Progress, emit, table
from votectl.peek import PEEK_QUEUES
from votectl.targets import open_target

queue_app = typer.Typer(help="Inspect the queues.", no_args_is_help=True)
table_app = typer.Typer(help="Inspect the votes table.", no_args_is_help=True)


@queue_app.command("stats")
@with_stage()
def queue_stats(stage: Stage, as_json: JsonOut = False) -> None:
    """Messages visible, in flight and delayed, per queue and DLQ."""
    stats = open_target(stage).queue_stats()
    emit(queue_stats_json(stats), queue_table(stats), as_json)


@queue_app.command("peek")
@with_stage()
def queue_peek(
    stage: Stage,
    queue: Annotated[
        str | None,
        typer.Argument(help=f"One of {', '.join(PEEK_QUEUES)} \\[default: both DLQs]."),
    ] = None,
    count: Annotated[int, typer.Option(help="Messages per queue.", min=1, max=100)] = 10,
    as_json: JsonOut = False,
) -> None:
    """Look at a queue's messages without consuming them: votes, receive count, age.

    On AWS they are received and made visible again at once (SQS counts the receive).
    """
    if queue is not None and queue not in PEEK_QUEUES:
        raise UsageError(f"unknown queue {queue!r}", hint=f"queues: {', '.join(PEEK_QUEUES)}")
    messages = open_target(stage).peek([queue] if queue else ["votes-dlq", "ready-dlq"], count)
    emit({"messages": [m.to_json() for m in messages]}, peek_table(messages), as_json)


@table_app.command("count")
@with_stage()
def table_count(
    stage: Stage,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="On AWS: count with a parallel Scan instead of DescribeTable's estimate.",
        ),
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """How many votes the table holds (one per user, title and aspect)."""
    target = open_target(stage)
    with Progress("counting") as progress:
        count = target.table_count(exact=exact, on_progress=progress.update)
    note = "exact" if count.exact else "approximate: DescribeTable refreshes about every 6 hours"
    if count.age_seconds is not None:
        note += f", {count.age_seconds / 3600:.1f} h old"
    emit(
        count.to_json(),
        table(None, ["table", "votes", "count"], [[count.table, count.count, note]]),
        as_json,
    )


@with_stage()
def results(
    stage: Stage,
    title_id: Annotated[
        str, typer.Argument(metavar="TITLE_ID", help="The title whose votes to summarise.")
    ],
    as_json: JsonOut = False,
) -> None:
    """Votes, mean and score histogram per aspect for one title; exit 1 if it has none."""
    res = open_target(stage).results(title_id)
    if not res.aspects:
        if as_json:  # the document still says so: {"title_id": ..., "aspects": {}}
            emit(res.to_json(), None, as_json)
        raise NoVotes(f"no votes found for title {title_id!r}")
    emit(res.to_json(), results_table(res), as_json)


@with_stage()
def redrive(
    stage: Stage,
    queue: Annotated[
        str | None, typer.Option("--queue", help="Only this queue's DLQ (votes or ready).")
    ] = None,
    max_per_second: Annotated[
        int | None,
        typer.Option(
            help="AWS only: move rate cap (1-500 messages/s); a local redrive is one transaction.",
            min=1,
            max=500,
        ),
    ] = None,
    cancel: Annotated[
        bool, typer.Option("--cancel", help="On AWS: cancel a running move task.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would move; move nothing.")
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Move every DLQ's messages back to its source queue (at most those there when it starts).

    Exit 1 when redriven messages came back to a DLQ: the consumer still fails them.
    """
    if dry_run and cancel:
        raise UsageError("--dry-run and --cancel do not go together")
    if stage.is_local and max_per_second is not None:  # refused, never silently ignored
        raise UsageError(
            "--max-per-second caps an AWS message move task; a local redrive moves each DLQ"
            " in one transaction, at once",
            hint="drop --max-per-second on the local stage",
        )
    target = open_target(stage)
    with Progress("redrive") as progress:
        result = target.redrive(
            queue=queue,
            max_per_second=max_per_second,
            cancel=cancel,
            on_progress=progress.update,
            dry_run=dry_run,
        )
    emit(result.to_json(), redrive_table(result), as_json)
    if result.came_back:
        said = "; ".join(
            f"{m.dlq}: moved {m.moved}; {m.came_back} came back to the DLQ"
            for m in result.queues
            if m.came_back
        )
        raise PipelineFailed(
            f"{said}: the consumer still fails them",
            hint="see why with `votectl queue peek` and `votectl logs`, fix it, redrive again",
        )


def register(app: typer.Typer) -> None:
    app.add_typer(queue_app, name="queue")
    app.add_typer(table_app, name="table")
    app.command()(results)
    app.command()(redrive)
