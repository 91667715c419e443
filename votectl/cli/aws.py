"""`votectl bundle`, `deploy`, `destroy`: the AWS target's own commands."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.text import Text

from votectl.cli.options import JsonOut, StageName, with_stage
from votectl.config import Stage, in_config, load_stage
from votectl.errors import StackNotFound, UsageError, VotectlError
from votectl.output import Fitted, Progress, emit, err, table, warn
from votectl.output import out as stdout
from votectl.plan import cost_line

if TYPE_CHECKING:
    from votectl.aws.deploy import Change

OutDir = Annotated[Path, typer.Option("--out", help="Where the zips are written.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before changing the stack.")]


def _can_ask(yes: bool) -> None:
    """Fail before touching AWS if a confirmation will be needed and nobody can give it."""
    if not yes and not sys.stdin.isatty():
        raise UsageError(
            "this command asks before changing AWS, and stdin is not a terminal",
            hint="pass --yes to proceed without asking",
        )


def _ask(question: str, yes: bool) -> bool:
    return yes or typer.confirm(question, default=False, err=True)


def bundle(
    out: OutDir = Path("dist"),
    arch: Annotated[
        str | None, typer.Option("--arch", help="arm64 (default, cheaper) or x86_64.")
    ] = None,
    stage: StageName = None,
    as_json: JsonOut = False,
) -> None:
    """Build one reproducible zip per function (receiver, processor, writer)."""
    from votectl.aws.bundle import ARCHITECTURES, build

    settings = load_stage(stage)
    architecture = arch or settings.architecture
    if architecture not in ARCHITECTURES:
        raise UsageError(
            f"--arch must be one of {', '.join(ARCHITECTURES)}", hint="arm64 is the default"
        )
    folder = out.resolve()
    err.print(f"votectl bundle: building receiver, processor, writer into {folder}", soft_wrap=True)
    with err.status("building the zips (vendored dependencies, reproducible)"):
        result = build(out, architecture, runtime=settings.runtime)
    rows = [[Path(a.path).name, f"{a.size:,}", a.sha256] for a in result.artifacts]
    title = f"bundle ({result.runtime}, {result.architecture})"
    shown = table(title, ["zip", "bytes", "sha256"], rows, caption=f"in {folder}")
    emit(result.to_json(), shown, as_json)


@with_stage(local=False)
def deploy(
    stage: Stage,
    yes: Yes = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the change set, then delete it.")
    ] = False,
    out: OutDir = Path("dist"),
    no_canary: Annotated[
        bool,
        typer.Option(
            "--no-canary",
            envvar="VOTECTL_NO_CANARY",
            help="Do not run `votectl canary` after a deploy that changed the stack.",
        ),
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Deploy the stage's stack through a CloudFormation change set.

    Bundles the functions, creates the artifacts bucket on first use and uploads the zips
    (keyed by sha256) before the change set is shown; the stack itself changes only after
    you confirm (or pass --yes). A deploy that changed the stack then runs `votectl canary`
    (exit 1 if it fails; --no-canary skips it).
    """
    from votectl.aws.deploy import Hooks, StackEvent
    from votectl.aws.deploy import deploy as run_deploy
    from votectl.aws.session import Aws

    if not in_config(stage.name):  # a typo must be visible before anything is created
        warn(
            f"stage {stage.name!r} is not in votectl.toml: {stage.stack_name} is deployed"
            " from the defaults and your flags"
        )
    if not stage.alarm_email:
        warn(
            f"stage {stage.name!r} sets no alarm_email: the alarm topic of {stage.stack_name} has"
            " no subscriber, so its alarms (DLQs, errors, throttles, rejected votes) reach nobody"
        )
    _can_ask(yes or dry_run)
    progress = Progress("deploy")
    done: list[str] = []
    total = [0]

    def confirm(changes: Sequence[Change]) -> bool:
        err.print(
            Group(_changes_table(changes, stage.endpoint_url), cost_line(stage)), soft_wrap=True
        )
        total[0] = len(changes)
        return _ask(f"Apply {len(changes)} change(s) to {stage.stack_name}?", yes)

    def on_event(event: StackEvent) -> None:
        if event.status.endswith("_FAILED"):
            err.print(f"[red]{event.status}[/] {event.logical_id}: {event.reason}")
        if event.status.endswith("_COMPLETE") and event.logical_id != stage.stack_name:
            done.append(event.logical_id)
        progress.update(f"applying {stage.stack_name}", len(done), total[0] or None)

    hooks = Hooks(
        confirm=confirm, on_step=lambda step: err.print(f"[dim]{step}[/]"), on_event=on_event
    )
    with progress:
        result = run_deploy(Aws(stage), hooks, out_dir=out, dry_run=dry_run)
    human: Any = {
        "no-op": f"{result.stack}: no changes; nothing deployed",
        "declined": f"{result.stack}: not applied; the change set was deleted",
        "dry-run": Group(
            _changes_table(result.changes, stage.endpoint_url),
            cost_line(stage),
            f"dry run: change set for {result.stack} deleted",
        ),
        "deployed": f"{result.stack}: deployed",
    }[result.outcome]
    shows_outputs = result.outcome in ("deployed", "no-op") and bool(result.outputs)
    if shows_outputs:
        human = Group(human, _outputs_lines(result.outputs))
    if result.outcome != "deployed" or no_canary:
        emit(result.to_json(), human, as_json, soft_wrap=shows_outputs)
        return
    if not as_json:
        stdout.print(human, soft_wrap=shows_outputs)
    _canary_after_deploy(stage, result.to_json(), as_json)


def _canary_after_deploy(stage: Stage, deployed: dict[str, Any], as_json: bool) -> None:
    """`votectl canary` on the stage just deployed; with --json its result joins the deploy's
    document under "canary" (and the run still exits 1 when it failed); a canary that could
    not run at all (the stack unreadable) leaves "canary": null and its error line."""
    from votectl.canary import CanaryFailed
    from votectl.cli.canary import prove
    from votectl.targets import open_target

    err.print("[dim]running the canary (skip it with --no-canary)[/]")
    try:
        prove(open_target(stage), None, 60.0, as_json, lambda doc: {**deployed, "canary": doc})
    except CanaryFailed:
        raise
    except VotectlError:
        if as_json:
            emit({**deployed, "canary": None}, None, True)
        raise


@with_stage(local=False)
def destroy(
    stage: Stage,
    yes: Yes = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also empty and delete the artifacts bucket.")
    ] = False,
    delete_data: Annotated[
        bool,
        typer.Option(
            "--delete-data",
            help="Also delete the votes table, which destroy otherwise keeps. Asks twice;"
            " with --yes it asks nothing.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Destroy even while the queues or DLQs hold messages (lost with them)."
        ),
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Delete the stage's stack and queues; the votes table is kept unless --delete-data.

    Refuses while any queue or DLQ holds messages, unless --force. --purge also deletes the
    artifacts bucket.
    """
    from votectl.aws.deploy import Hooks
    from votectl.aws.deploy import destroy as run_destroy
    from votectl.aws.destroy import refuse_held_messages
    from votectl.aws.session import Aws
    from votectl.aws.stack import read_stack

    _can_ask(yes)
    name = stage.stack_name
    if not force:  # before asking: a refusal should not follow a "yes"
        with contextlib.suppress(StackNotFound):  # no stack: run_destroy says what is left
            refuse_held_messages(Aws(stage), read_stack(Aws(stage)))
    what = f"Delete stack {name} and its queues"
    what += " AND ITS VOTES TABLE, every vote in it," if delete_data else " (the votes table stays)"
    if not _ask(what + (" and the artifacts bucket?" if purge else "?"), yes):
        emit(_untouched(name, "declined"), f"{name}: not destroyed", as_json)
        return
    if delete_data and not yes:
        typed = typer.prompt(
            f"The votes are gone for good. Type the stage name ({stage.name}) to confirm",
            default="",
            show_default=False,
            err=True,
        )
        if typed != stage.name:
            said = f"{typed!r} is not {stage.name!r}: nothing deleted"
            emit(_untouched(name, "declined"), said, as_json)
            return
    hooks = Hooks(on_step=lambda step: err.print(f"[dim]{step}[/]"))
    try:
        result = run_destroy(Aws(stage), hooks, purge=purge, delete_data=delete_data, force=force)
    except StackNotFound:  # only without --purge: there is nothing else to do
        gone = f"{name}: already gone (no such stack); nothing destroyed"
        emit(_untouched(name, "already-gone"), gone, as_json)
        return
    outcome = "deleted" if result.deleted else "already-gone"
    lines = [f"{name}: " + ("deleted" if result.deleted else "already gone (no such stack)")]
    if result.table_kept:
        lines.append(f"kept votes table {result.table} (delete it with --delete-data)")
    elif result.table:
        lines.append(f"deleted votes table {result.table}")
    for older in result.older_tables:
        verb = "deleted" if delete_data else "kept"
        lines.append(f"{verb} votes table {older} (left by an earlier stack of this stage)")
    lines.append(
        f"kept artifacts bucket {result.bucket} (delete it with --purge)"
        if result.bucket_kept
        else f"deleted artifacts bucket {result.bucket}"
    )
    emit({**result.to_json(), "outcome": outcome}, "\n".join(lines), as_json)


def _untouched(stack: str, outcome: str) -> dict[str, Any]:
    """destroy's JSON when it deleted nothing: the same keys as a deletion's."""
    from votectl.aws.destroy import DestroyResult

    return {**DestroyResult.untouched(stack).to_json(), "outcome": outcome}


def _changes_table(changes: Sequence[Change], emulator: str | None = None) -> Fitted:
    """The change set; on an emulator (``endpoint_url``) the resources it will not create are
    noted, so that an "add" is not taken for a promise."""
    from votectl.aws.changeset import EMULATOR_CREATES_NONE

    rows = [[c.action, c.logical_id, c.resource_type, c.replacement] for c in changes]
    columns = ["action", "resource", "type", "replacement"]
    skipped = [c for c in changes if emulator and c.resource_type in EMULATOR_CREATES_NONE]
    if not skipped:
        return table("change set", columns, rows)
    notes = ["not created by the emulator" if c in skipped else "" for c in changes]
    return table(
        "change set",
        [*columns, "note"],
        [[*row, note] for row, note in zip(rows, notes, strict=True)],
        caption=f"on an emulator ({emulator}): moto creates none of the {len(skipped)} noted"
        " (API Gateway, function URL, alarms, e-mail subscription); the deploy goes on"
        " without them",
    )


def _outputs_lines(outputs: dict[str, str | None]) -> Text:
    """One "name  value" line per output, printed unwrapped: a URL a user copies is never cut."""
    width = max(map(len, outputs))
    return Text(
        "\n".join(
            f"  {k:<{width}}  {v or '(not reported by this endpoint)'}" for k, v in outputs.items()
        )
    )


def register(app: typer.Typer) -> None:
    for command in (bundle, deploy, destroy):
        app.command()(command)
