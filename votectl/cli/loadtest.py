"""`votectl loadtest`: parse flags, call ``votectl.loadtest.run``, render the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from votectl.cli.options import JsonOut, with_stage
from votectl.config import Stage
from votectl.loadtest import SHAPES, USER_CLASSES, LoadSettings, LoadtestResult, run
from votectl.output import emit, err, table

_CLASSES = ", ".join(USER_CLASSES)
Users = Annotated[int, typer.Option("--users", "-u", help="Concurrent users (peak for a shape).")]
SpawnRate = Annotated[
    float | None,
    typer.Option("--spawn-rate", "-r", help="Users started per second \\[default: all]."),
]
Duration = Annotated[str, typer.Option("--duration", "-t", help="Run time: 30s, 2m, 1h30m.")]
Shape = Annotated[str, typer.Option(help=f"Load shape: {', '.join(SHAPES)}.")]
UserClass = Annotated[
    list[str] | None,
    typer.Option(
        "--user-class",
        "-c",
        metavar="CLASS",
        help=f"Repeatable: {_CLASSES} \\[default: SingleVoter].",
    ),
]
BatchSize = Annotated[int | None, typer.Option(help="Votes per BatchVoter request (1-500).")]
ReportDir = Annotated[Path, typer.Option(help="Where Locust's CSV and HTML reports go.")]
Html = Annotated[Path | None, typer.Option(help="HTML report \\[default: REPORT_DIR/report.html].")]
TokenFile = Annotated[
    Path | None, typer.Option(help="Bearer tokens, one per line (`votectl token --count N`).")
]
JwtSecretFile = Annotated[
    Path | None,
    typer.Option(help="Users mint HS256 tokens with this secret (the stage's issuer/audience)."),
]
MaxFailureRatio = Annotated[
    float,
    typer.Option(
        "--max-failure-ratio",
        min=0.0,
        max=1.0,
        help="Exit 1 if more than this fraction of requests failed.",
    ),
]
Verify = Annotated[
    bool, typer.Option("--verify/--no-verify", help="Drain, then compare the table's growth.")
]


@with_stage()
def loadtest(
    stage: Stage,
    users: Users = 50,
    spawn_rate: SpawnRate = None,
    duration: Duration = "30s",
    shape: Shape = "none",
    user_class: UserClass = None,
    batch_size: BatchSize = None,
    report_dir: ReportDir = Path("loadtest-report"),
    html: Html = None,
    verify: Verify = True,
    token_file: TokenFile = None,
    jwt_secret_file: JwtSecretFile = None,
    max_failure_ratio: MaxFailureRatio = 0.0,
    as_json: JsonOut = False,
) -> None:
    """Drive Locust at a stage's endpoint, then check that every distinct vote accepted was stored.

    For --stage local it uses the running `votectl up`, or starts one for the run. Exit 1 if
    votes were lost or more requests failed than --max-failure-ratio allows (default: none).
    """
    settings = LoadSettings(
        users=users,
        spawn_rate=spawn_rate,
        duration=duration,
        shape=shape,
        user_classes=tuple(user_class or ("SingleVoter",)),
        batch_size=batch_size,
        report_dir=report_dir,
        html=html,
        verify=verify,
        token_file=token_file,
        jwt_secret_file=jwt_secret_file,
        jwt_issuer=stage.jwt_issuer,
        jwt_audience=stage.jwt_audience,
        max_failure_ratio=max_failure_ratio,
    )
    result = run(stage, settings, _progress)
    emit(result.to_json(), _summary_table(result), as_json)
    if result.errors and not as_json:
        rows = [[e.name, e.error, e.occurrences] for e in result.errors]
        emit({}, table("errors by kind", ["request", "error", "count"], rows), False)
    failure = result.failure(max_failure_ratio)
    if failure is not None:
        raise failure


def _progress(line: str) -> None:
    err.print(f"[dim]{escape(line)}[/]", soft_wrap=True)


def _summary_table(r: LoadtestResult) -> object:
    s, v = r.requests, r.verification
    rows: list[list[object]] = [
        ["target", f"{r.stage} ({r.url})"],
        ["votes accepted", f"{r.votes_accepted:,} ({r.votes_per_s:,.0f} votes/s)"],
        ["distinct votes accepted", f"{r.distinct_votes:,}"],
        ["requests", f"{s.requests:,} ({s.requests_per_s:,.0f} req/s)"],
        ["failures", f"{s.failures:,}"],
        ["latency p50 / p99", f"{s.p50_ms:g} ms / {s.p99_ms:g} ms"],
    ]
    if v is not None:
        drained = f"{v.drain_seconds:.2f}s" if v.drained else "NOT drained"
        rows += [
            ["drain", drained],
            ["stored (table growth)", f"{v.stored:,}"],
            ["in DLQs", f"{v.dlq_messages:,}"],
            ["lost", f"{r.lost:,}"],
        ]
    rows.append(["reports", f"{r.report_dir} ({r.html}, {r.pipeline_html})"])
    return table(f"votectl loadtest ({r.duration_s:.1f}s)", ["", "value"], rows)


def register(app: typer.Typer) -> None:
    app.command()(loadtest)
