"""`votectl logs` and `votectl watch`: what the pipeline is doing, on every target."""

from __future__ import annotations

from typing import Annotated

import typer

from votectl.cli.options import JsonOut, with_stage
from votectl.cli.render import log_line
from votectl.config import Stage
from votectl.logevents import FUNCTIONS, LogQuery, parse_since
from votectl.output import emit_line
from votectl.targets import open_target

Functions = Annotated[
    list[str] | None,
    typer.Option("--function", "-f", help=f"Repeatable: {', '.join(FUNCTIONS)} \\[default: all]."),
]
Since = Annotated[str, typer.Option(help="How far back: 30s, 10m, 2h, 1d.")]
Follow = Annotated[bool, typer.Option("--follow", help="Keep printing new lines until Ctrl-C.")]
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
    as_json: JsonOut = False,
) -> None:
    """The handlers' logs, interleaved by time and labelled; --json prints one object a line.

    Local: what `votectl up` keeps in <data-dir>/logs. AWS: the functions' CloudWatch Logs.
    """
    query = LogQuery(tuple(function or FUNCTIONS), parse_since(since), filter_text)
    for event in open_target(stage).logs(query, follow):
        emit_line(event.to_json(), log_line(event), as_json)


def register(app: typer.Typer) -> None:
    app.command()(logs)
