"""`votectl logs` and `votectl watch`: what the pipeline is doing, on every target."""

from __future__ import annotations

from typing import Annotated

import typer

from votectl.cli.options import with_stage
from votectl.cli.render import log_line, watch_view
from votectl.config import Stage
from votectl.logevents import FUNCTIONS, LogQuery, parse_since
from votectl.output import emit_line, err, live_screen
from votectl.targets import open_target

Functions = Annotated[
    list[str] | None,
    typer.Option("--function", help=f"Repeatable: {', '.join(FUNCTIONS)} \\[default: all]."),
]
Since = Annotated[str, typer.Option(help="How far back: 30s, 10m, 2h, 1d.")]
Follow = Annotated[
    bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
]
JsonLines = Annotated[
    bool,
    typer.Option(
        "--json", help="One JSON object per line (JSON Lines), as each line comes; not a list."
    ),
]
Filter = Annotated[
    str | None, typer.Option("--filter", help="Only lines containing this text (a request id).")
]


@with_stage()
def logs(
    stage: Stage,
    function: Functions = None,
    since: Since = "10m",
    follow: Follow = False,
    filter_text: Filter = None,
    as_json: JsonLines = False,
) -> None:
    """The handlers' logs, interleaved by time and labelled; --json prints JSON Lines.

    Local: what `votectl up` keeps in <data-dir>/logs: each batch the processor and writer
    handle, warnings and errors (LOG_LEVEL=WARNING `votectl up` for fewer). AWS: the
    functions' CloudWatch Logs.
    """
    query = LogQuery(tuple(function or FUNCTIONS), parse_since(since), filter_text)
    printed = 0
    for event in open_target(stage).logs(query, follow):
        emit_line(event.to_json(), log_line(event), as_json)
        printed += 1
    if not printed:  # said on stderr, exit 0: an empty answer is an answer
        which = ", ".join(query.functions)
        matching = f" containing {query.filter_text!r}" if query.filter_text else ""
        err.print(
            f"votectl logs: no lines from {which}{matching} in the last {since}", soft_wrap=True
        )
        err.print(
            "[dim]hint:[/] the handlers write a line per batch once votes flow; "
            "a longer --since (1h, 1d) reaches further back",
            soft_wrap=True,
        )


@with_stage()
def watch(
    stage: Stage,
    interval: Annotated[
        float, typer.Option(help="Seconds between refreshes.", min=0.2, max=60)
    ] = 1.0,
    frames: Annotated[
        int | None, typer.Option(help="Stop after this many refreshes (for scripts).", min=1)
    ] = None,
) -> None:
    """A live view of queues, table and accepted votes/s; q leaves (exit 0), Ctrl-C too (130).

    Each queue's depth, in/out rate, sparkline and oldest message, the table count and accepted
    votes/s.

    Local: from the data dir. AWS: GetQueueAttributes, DescribeTable's estimate, CloudWatch.
    """
    from votectl.watch import sampler_for
    from votectl.watch import watch as run_watch

    title = f"votectl watch: {stage.name} (queue depths are messages, not votes)"
    with live_screen() as (show, wait):
        run_watch(
            sampler_for(open_target(stage)),
            lambda state: show(watch_view(state, title)),
            wait,
            interval,
            frames,
        )


def register(app: typer.Typer) -> None:
    app.command()(logs)
    app.command()(watch)
