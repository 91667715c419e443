"""Options shared by many commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from votectl.config import Stage, load_stage

JsonOut = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of a table.")
]
StageName = Annotated[
    str | None,
    typer.Option(
        "--stage",
        "-s",
        envvar="VOTECTL_STAGE",
        help="Stage: local (default) or one in votectl.toml.",
    ),
]
DataDir = Annotated[
    str | None,
    typer.Option(
        "--data-dir", envvar="VOTECTL_DATA_DIR", help="Local data dir [default: .votectl/local]."
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


def resolve(
    stage: str | None,
    data_dir: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Stage:
    return load_stage(
        stage, data_dir=data_dir, region=region, profile=profile, endpoint_url=endpoint_url
    )
