"""`votectl up` and `votectl demo`: the embedded target."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape

from votectl.cli.options import DataDir, JsonOut
from votectl.cli.render import results_table
from votectl.config import LOCAL, load_stage
from votectl.errors import PipelineFailed, UsageError
from votectl.output import StatusLine, emit, err, out, table, warn

AuthMode = Annotated[
    str | None, typer.Option("--auth", help="none or jwt \\[default: the stage's, else none].")
]
JwtIssuer = Annotated[
    str | None, typer.Option(help="Required iss claim \\[default: votectl-local].")
]
JwtAudience = Annotated[str | None, typer.Option(help="Required aud claim \\[default: votectl].")]
JwtJwks = Annotated[str | None, typer.Option(help="JWKS file or URL (RS256/ES256 keys).")]
JwtSecretFile = Annotated[
    str | None,
    typer.Option(help="HS256 secret file \\[default: DATA_DIR/jwt-secret, made on first use]."),
]
JwtLeeway = Annotated[
    int | None,
    typer.Option(
        help="Seconds of issuer clock skew allowed on exp, nbf, iat \\[default: the stage's, 60].",
        min=0,
        max=3600,
    ),
]
CorsOrigin = Annotated[
    list[str] | None, typer.Option("--cors-origin", help="Repeatable: a browser origin to allow.")
]


def up(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 unless told otherwise.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8000,
    data_dir: DataDir = None,
    visibility_timeout: Annotated[
        float, typer.Option(help="Seconds a received message stays hidden.")
    ] = 30.0,
    max_receive_count: Annotated[
        int, typer.Option(help="Receives before a message moves to its DLQ.", min=1, max=1000)
    ] = 3,
    chaos: Annotated[
        list[str] | None,
        typer.Option(
            metavar="STAGE=FRACTION",
            help="Fail that fraction of a stage's batches (receiver, processor, writer); "
            "repeatable.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Gateway processes sharing the port [default: half the cores, 1 to 4].",
            min=1,
            max=64,
            show_default=False,
        ),
    ] = None,
    idle_timeout: Annotated[
        float, typer.Option(help="Seconds a connection may wait for a request.", min=0.1)
    ] = 5.0,
    request_timeout: Annotated[
        float, typer.Option(help="Seconds a request may take to arrive (408 after).", min=0.1)
    ] = 10.0,
    max_connections: Annotated[
        int, typer.Option(help="Open connections per gateway process.", min=16)
    ] = 4096,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live status line.")] = False,
    detach: Annotated[
        bool,
        typer.Option(
            "--detach",
            "-d",
            help="Run in the background: return once it serves, print its URL and data dir "
            "(stop it with `votectl down`).",
        ),
    ] = False,
    auth: AuthMode = None,
    jwt_issuer: JwtIssuer = None,
    jwt_audience: JwtAudience = None,
    jwt_jwks: JwtJwks = None,
    jwt_secret_file: JwtSecretFile = None,
    jwt_leeway: JwtLeeway = None,
    cors_origin: CorsOrigin = None,
) -> None:
    """Run the pipeline on this machine until Ctrl-C: endpoint, queues, pollers, table."""
    from votectl.local.auth import auth_settings, exposure_warning, jwks_warning
    from votectl.local.chaos import parse_chaos
    from votectl.local.limits import Limits
    from votectl.local.serve import default_workers
    from votectl.local.supervisor import UpSettings, run_up

    if auth is not None and auth not in ("none", "jwt"):  # a flag: name the flag, not the file
        raise UsageError(
            f"--auth must be none or jwt, got {auth!r}",
            hint=f"votectl up --auth {auth.lower() if auth.lower() in ('none', 'jwt') else 'jwt'}",
        )
    stage = load_stage(
        LOCAL,
        data_dir=data_dir,
        auth=auth,
        jwt_issuer=jwt_issuer,
        jwt_audience=jwt_audience,
        jwt_jwks=jwt_jwks,
        jwt_secret_file=jwt_secret_file,
        jwt_leeway=jwt_leeway,
        cors_origins=tuple(cors_origin) if cors_origin else None,
    )
    jwt_options = (jwt_issuer, jwt_audience, jwt_jwks, jwt_secret_file, jwt_leeway)
    if any(option is not None for option in jwt_options) and stage.auth != "jwt":
        raise UsageError("--jwt-* options need auth jwt", hint="add --auth jwt")
    settings = UpSettings(
        host=host,
        port=port,
        data_dir=stage.data_dir,
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
        chaos=parse_chaos(chaos or []),
        workers=workers or default_workers(),
        auth=auth_settings(stage),
        limits=Limits(idle_timeout, request_timeout, max_connections=max_connections),
    )
    if visibility_timeout <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--visibility-timeout")
    exposed = exposure_warning(host, settings.auth.mode)
    if exposed:
        warn(exposed)
    unreachable = jwks_warning(settings.auth)
    if unreachable:
        warn(unreachable)
    if detach:
        _detach(ctx, settings.data_dir)
        return

    def ready(url: str) -> None:
        err.print(
            f"votectl up: listening on {url}/votes (data dir {settings.data_dir}); Ctrl-C stops",
            soft_wrap=True,
        )

    with StatusLine(enabled=not quiet) as line:
        run_up(
            settings,
            status=None if quiet else lambda s: line.update(_status_text(s)),
            on_ready=ready,
            notice=lambda line: err.print(f"votectl up: {escape(line)}", soft_wrap=True),
        )
    err.print("votectl up: stopped")


def _detach(ctx: typer.Context, data_dir: str) -> None:
    """Start this same `votectl up` (its options as given, the data dir resolved) in the
    background and say where it serves."""
    from votectl.local.background import detach
    from votectl.local.layout import Layout

    args = [*_given_options(ctx, skip={"detach", "data_dir", "quiet"})]
    args += ["--data-dir", os.path.abspath(data_dir)]
    with err.status("votectl up: starting in the background..."):
        started = detach(Layout.of(os.path.abspath(data_dir)), args)
    out.print(f"{started.url}/votes", soft_wrap=True)
    err.print(
        f"votectl up: running in the background (pid {started.pid}, data dir "
        f"{started.data_dir}, output in {started.log}); `votectl down` stops it",
        soft_wrap=True,
        highlight=False,
    )


def _given_options(ctx: Any, skip: set[str]) -> list[str]:
    """The options given on the command line, as arguments for another `votectl up`."""
    from typer._click.core import ParameterSource

    args: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name in skip or ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE:
            continue
        value, flag = ctx.params[name], param.opts[0]
        if getattr(param, "is_flag", False):
            args += [flag] if value else []
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def down(
    data_dir: DataDir = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for it to stop.", min=1)] = 30.0,
) -> None:
    """Stop the `votectl up` on the data dir gracefully (what it acknowledged stays queued)."""
    from votectl.local.background import stop
    from votectl.local.layout import Layout
    from votectl.local.ops import LocalOperations

    stage = load_stage(LOCAL, data_dir=data_dir)
    stopped = stop(Layout.of(stage.data_dir), timeout)
    if stopped.pid is None:
        err.print(f"votectl down: nothing runs on {stopped.data_dir}", soft_wrap=True)
        return
    queued = sum(
        q.visible + q.in_flight + q.delayed
        for q in LocalOperations(stage.data_dir).queue_stats()
        if not q.dlq
    )
    left = f"; {queued:,} votes still queued (the next `votectl up` processes them)" * bool(queued)
    err.print(
        f"votectl down: stopped `votectl up` (pid {stopped.pid}) on {stopped.data_dir}{left}",
        soft_wrap=True,
    )


def _status_text(s: dict[str, Any]) -> str:
    queues = "  ".join(f"{name} {depth}" for name, depth in s["queues"].items())
    extra = "".join(f"  {key} {s[key]}" for key in ("rejected", "restarts") if s[key])
    return (
        f"accepted {s['accepted']} ({s['accepted_per_s']:.0f}/s)  queues: {queues}"
        f"  stored {s['stored']}{extra}"
    )


def demo(
    seconds: Annotated[float, typer.Option(help="Seconds of load to drive.", min=1, max=600)] = 5.0,
    as_json: JsonOut = False,
) -> None:
    """Start the pipeline in a temp dir, drive votes at it, drain, verify nothing was lost."""
    from votectl.demo import run_demo

    result = run_demo(seconds, progress=lambda text: err.print(f"[dim]demo:[/] {text}"))
    load, requests = result.load, result.load.requests
    summary = table(
        "votectl demo",
        ["", "value"],
        [
            ["votes accepted (202)", f"{load.votes_accepted:,}"],
            ["distinct votes accepted", f"{load.distinct_votes:,}"],
            ["votes stored", f"{result.stored:,}"],
            ["request errors", f"{requests.failures:,}"],
            ["load / drain", f"{load.duration_s:.1f}s / {result.drain_seconds:.2f}s"],
            ["persisted votes/s", f"{result.persisted_votes_per_s:,.0f}"],
            ["latency p50 / p99", f"{requests.p50_ms:g} / {requests.p99_ms:g} ms"],
            ["load generator", f"1 Locust process, {result.users} users (the bound; see Speed)"],
        ],
    )
    emit(result.to_json(), summary, as_json)
    if not as_json and result.top_title is not None:
        title = result.top_title.title_id
        said = (
            f"{title} is a sample title id: the demo's voters rate made-up titles tt1, tt2, ..."
            f" (the lower the number, the more popular); {title} got the most votes."
            f" `votectl results TITLE_ID` shows any title"
        )
        emit({}, results_table(result.top_title, caption=said), False)
    failure = load.failure()
    if failure is not None:
        raise failure
    if not load.distinct_votes:
        raise PipelineFailed("no vote was accepted")


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(demo)
