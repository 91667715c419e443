"""`votectl status`: on the local stage what `votectl up` runs, on AWS the stack."""

from __future__ import annotations

import typer

from votectl.cli.options import JsonOut, with_stage
from votectl.cli.render import status_view
from votectl.config import Stage
from votectl.output import emit
from votectl.targets import open_target


@with_stage()
def status(stage: Stage, as_json: JsonOut = False) -> None:
    """What runs and what it holds (not running is not an error).

    Local: URL, processes, restarts, queues, table. AWS: stack status, endpoint, functions and
    their code hashes, queues, table.
    """
    report = open_target(stage).status()
    emit(report.to_json(), status_view(report), as_json)


def register(app: typer.Typer) -> None:
    app.command()(status)
