"""`votectl token`: development JWTs signed with the local secret, one per line on stdout."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from votectl.cli.options import with_stage
from votectl.config import Stage
from votectl.errors import UsageError
from votectl.output import out

_TTL = re.compile(r"^(\d+)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``1h``, ``7d`` -> seconds (> 0)."""
    match = _TTL.match(text.strip())
    seconds = int(match.group(1)) * _UNIT[match.group(2)] if match else 0
    if seconds <= 0:
        raise UsageError(f"--ttl must look like 90s, 15m, 1h or 7d, got {text!r}")
    return seconds


@with_stage(aws=False)
def token(
    stage: Stage,
    user: Annotated[str, typer.Option("--user", help="The sub claim: whom the token names.")],
    ttl: Annotated[str, typer.Option(help="Lifetime: 90s, 15m, 1h, 7d.")] = "1h",
    count: Annotated[
        int,
        typer.Option(
            help="Tokens to mint; more than 1: users USER-0 .. USER-(N-1).", min=1, max=100_000
        ),
    ] = 1,
) -> None:
    """Mint development tokens that `votectl up --auth jwt` accepts, one per line on stdout.

    Signed (HS256) with the stage's jwt_secret_file, else the data dir's secret (created on
    first use), for the stage's jwt_issuer and jwt_audience (default votectl-local, votectl).
    """
    from votectl.local.auth import DEV_AUDIENCE, DEV_ISSUER, dev_secret, mint, read_secret

    if not user.strip():
        raise UsageError("--user must not be empty")
    seconds = parse_ttl(ttl)
    if stage.jwt_jwks and not stage.jwt_secret_file:
        raise UsageError(
            f"stage {stage.name!r} verifies with a JWKS; votectl can only mint HS256 tokens",
            hint="get tokens from the JWKS's issuer, or use a stage with jwt_secret_file",
        )
    secret = read_secret(stage.jwt_secret_file or dev_secret(Path(stage.data_dir)))
    users = [user] if count == 1 else [f"{user}-{n}" for n in range(count)]
    issuer, audience = stage.jwt_issuer or DEV_ISSUER, stage.jwt_audience or DEV_AUDIENCE
    out.print(
        "\n".join(mint(secret, u, seconds, issuer, audience) for u in users),
        soft_wrap=True,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(token)
