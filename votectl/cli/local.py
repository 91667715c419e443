"""`votectl up` and `votectl demo`: the embedded target."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from votectl.cli.options import DataDir, JsonOut
from votectl.cli.render import results_table
from votectl.config import LOCAL, load_stage
from votectl.errors import PipelineFailed
from votectl.output import StatusLine, emit, err, table


def up(
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 unless told otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8000,
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
            help="STAGE=FRACTION: fail that fraction of a stage's batches "
            "(receiver, processor, writer)."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Gateway processes sharing the port (more cores: more workers).", min=1, max=64
        ),
    ] = 1,
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
) -> None:
    """Run the pipeline on this machine until Ctrl-C: endpoint, queues, pollers, table."""
    from votectl.local.chaos import parse_chaos
    from votectl.local.limits import Limits
    from votectl.local.supervisor import UpSettings, run_up

    stage = load_stage(LOCAL, data_dir=data_dir)
    settings = UpSettings(
        host=host,
        port=port,
        data_dir=stage.data_dir,
        visibility_timeout=visibility_timeout,
        max_receive_count=max_receive_count,
        chaos=parse_chaos(chaos or []),
        workers=workers,
        limits=Limits(idle_timeout, request_timeout, max_connections=max_connections),
    )
    if visibility_timeout <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--visibility-timeout")
    if not _loopback(host):
        err.print(
            f"[yellow]warning:[/] --host {host} lets other machines reach the endpoint; it has "
            "no TLS and, unless configured, no authentication (the default is 127.0.0.1)"
        )

    def ready(url: str) -> None:
        err.print(
            f"votectl up: listening on {url}/votes (data dir {settings.data_dir}); Ctrl-C stops"
        )

    with StatusLine(enabled=not quiet) as line:
        run_up(
            settings,
            status=None if quiet else lambda s: line.update(_status_text(s)),
            on_ready=ready,
        )
    err.print("votectl up: stopped")


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


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
    from votectl.local.demo import run_demo

    result = run_demo(seconds, progress=lambda text: err.print(f"[dim]demo:[/] {text}"))
    load = result.load
    payload = {
        "requests": load.requests.requests,
        "accepted": result.accepted,
        "errors": load.requests.failures,
        "stored": result.stored,
        "lost": result.lost,
        "load_seconds": round(load.duration_s, 3),
        "drain_seconds": round(result.drain_seconds, 3),
        "votes_per_second": round(result.votes_per_second, 1),
        "p99_ms": load.requests.p99_ms,
        "results": None if result.top_title is None else result.top_title.to_json(),
    }
    summary = table(
        "votectl demo",
        ["", "value"],
        [
            ["votes accepted (202)", f"{result.accepted:,}"],
            ["votes stored", f"{result.stored:,}"],
            ["request errors", load.requests.failures],
            ["load / drain", f"{load.duration_s:.1f}s / {result.drain_seconds:.2f}s"],
            ["persisted votes/s", f"{result.votes_per_second:,.0f}"],
            ["latency p50 / p99", f"{load.requests.p50_ms:g} / {load.requests.p99_ms:g} ms"],
        ],
    )
    emit(payload, summary, as_json)
    if not as_json and result.top_title is not None:
        emit({}, results_table(result.top_title), False)
    if result.lost or not result.accepted:
        raise PipelineFailed(
            f"{result.lost} of {result.accepted} accepted votes were not stored",
            hint="inspect the DLQs with `votectl queue stats`",
        )


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(demo)
