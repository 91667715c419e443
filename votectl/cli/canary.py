"""`votectl canary`: four marked votes through the deployed pipeline, judged; on every target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group

from votectl.canary import CanaryFailed, CanaryResult, run_canary
from votectl.cli.options import JsonOut, with_stage
from votectl.config import Stage
from votectl.errors import UsageError
from votectl.logevents import parse_since
from votectl.operations import Operations
from votectl.output import Progress, emit, err, table
from votectl.targets import open_target

__all__ = ["canary", "canary_view", "prove", "register"]

Timeout = Annotated[
    str, typer.Option("--timeout", help="How long the votes may take end to end: 30s, 2m.")
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="VOTECTL_TOKEN", help="Bearer token for a front door with auth jwt."
    ),
]
TokenFile = Annotated[
    Path | None, typer.Option("--token-file", help="Read the bearer token from this file.")
]


@with_stage()
def canary(
    stage: Stage,
    timeout: Timeout = "60s",
    token: Token = None,
    token_file: TokenFile = None,
    as_json: JsonOut = False,
) -> None:
    """Prove the pipeline end to end: a vote, a re-vote that must win, an older vote that must
    lose, one the contract must refuse; then check the DLQs and delete the canary's items.

    Exit 1 naming the hop where a vote stopped (front door, receiver, votes queue, processor,
    ready queue, writer, table, DLQ), with queue depths and the canary's log lines.
    """
    try:
        seconds = parse_since(timeout)
    except UsageError:
        raise UsageError(f"--timeout must look like 30s, 2m or 1h, got {timeout!r}") from None
    prove(open_target(stage), _token(token, token_file), seconds, as_json)


def prove(
    ops: Operations,
    token: str | None,
    timeout: float,
    as_json: bool,
    wrap: Callable[[dict[str, Any]], dict[str, Any]] = lambda doc: doc,
) -> CanaryResult:
    """Run the canary and show it: its table (or JSON, passed through ``wrap``) on success; on
    failure the JSON (with --json) or the table and log lines on stderr, then CanaryFailed
    for the CLI boundary (exit 1)."""
    try:
        with Progress("canary") as progress:
            progress.update("canary: votes on their way", 0, None)
            result = run_canary(ops, token, timeout)
    except CanaryFailed as failed:
        if as_json:
            emit(wrap(failed.result.to_json()), None, True)
        else:
            err.print(canary_view(failed.result), soft_wrap=True)
        raise
    emit(wrap(result.to_json()), canary_view(result), as_json)
    return result


def canary_view(result: CanaryResult) -> Any:
    rows = [
        [v.name, v.aspect, v.score, v.expect, v.outcome, v.status,
         "" if v.latency_ms is None else f"{v.latency_ms:,.0f}", v.correlation_id or ""]
        for v in result.votes
    ]  # fmt: skip
    columns = ["vote", "aspect", "score", "must", "did", "status", "ms", "correlation id"]
    how = "POST" if result.via == "http" else "lambda.invoke"
    title = f"canary {result.run_id}: {how} {result.door}"
    dlqs = ", ".join(f"{d.name} {d.before}->{d.after}" for d in result.dlqs)
    lines: list[Any] = [*result.notes]
    lines.append(table(title, columns, rows, left=5))
    lines.append(
        f"user {result.user_id}, title {result.title_id}; re-vote written by: "
        f"{result.write_path or 'not reached'}; DLQs {dlqs}; "
        f"deleted {result.deleted} item(s), {result.leftover} left"
    )
    if not result.ok:
        lines += [f"log: {line}" for line in result.logs]
    return Group(*lines)


def _token(token: str | None, token_file: Path | None) -> str | None:
    if token and token_file:
        raise UsageError("--token and --token-file do not go together")
    if token_file is None:
        return token
    try:
        text = token_file.read_text().strip()
    except OSError as exc:
        raise UsageError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
    if not text:
        raise UsageError(f"--token-file {token_file} is empty")
    return text


def register(app: typer.Typer) -> None:
    app.command()(canary)
