"""Options shared by many commands, declared once, and ``with_stage``: the one decorator that
gives a command the stage options and hands it the resolved ``Stage``."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from votectl.config import load_stage
from votectl.errors import UsageError

__all__ = ["DataDir", "JsonOut", "StageName", "with_stage"]

F = TypeVar("F", bound=Callable[..., Any])

JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of a table.")
]

StageName = Annotated[
    str | None,
    typer.Option(
        "--stage",
        "-s",
        envvar="VOTECTL_STAGE",
        help="Stage: local (default), one in votectl.toml, or a new AWS stage's name"
        " (with --region or --endpoint-url).",
    ),
]
DataDir = Annotated[
    str | None,
    typer.Option(
        "--data-dir", envvar="VOTECTL_DATA_DIR", help="Local data dir \\[default: .votectl/local]."
    ),
]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (overrides the stage).")]
Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (overrides the stage).")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Send every AWS call here (LocalStack, moto server)."),
]

_STAGE_OPTIONS: dict[str, Any] = {
    "stage": StageName,
    "data_dir": DataDir,
    "region": Region,
    "profile": Profile,
    "endpoint_url": EndpointUrl,
}
_LOCAL = ("stage", "data_dir")
_AWS = ("stage", "region", "profile", "endpoint_url")


def with_stage(local: bool = True, aws: bool = True) -> Callable[[F], F]:
    """Add --stage (and --data-dir for the local target, --region/--profile/--endpoint-url for
    AWS) to a command; it receives the resolved ``stage: Stage`` instead.

    ``local=False``: the command needs an AWS stage, and stage local is a usage error.
    """
    names = [n for n in _STAGE_OPTIONS if (local and n in _LOCAL) or (aws and n in _AWS)]

    def decorate(command: F) -> F:
        hints = typing.get_type_hints(command, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(command).parameters.values()
            if p.name != "stage"
        ]
        added = [
            inspect.Parameter(
                n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_STAGE_OPTIONS[n]
            )
            for n in names
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = {n: kwargs.pop(n) for n in names}
            stage = load_stage(chosen.pop("stage"), **chosen)
            if not local and stage.is_local:
                raise UsageError(
                    "stage 'local' is the embedded target; this command needs an AWS stage",
                    hint="pass --stage NAME (a [stages.NAME] of votectl.toml, or any name with"
                    " --region and the other flags)",
                )
            return command(*args, stage=stage, **kwargs)

        parameters = [*own, *added]
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return typing.cast(F, wrapper)

    return decorate
