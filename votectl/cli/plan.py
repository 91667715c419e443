"""`votectl plan`: capacity and cost of a stage at a vote rate (parse -> call -> render)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group

from votectl.cli.options import JsonOut, StageName
from votectl.config import load_stage
from votectl.errors import DoesNotFit, UsageError
from votectl.output import Fitted, emit, out, table
from votectl.plan import (
    DEFAULT_BATCH,
    HOLDS_BATCHES,
    MAX_BATCH,
    RATE_HINT,
    Holds,
    Plan,
    holds,
    parse_rate,
    parse_share,
    plan_stage,
)
from votectl.plan.capacity import HOLDS_SCHEMA
from votectl.plan.checks import HEADROOM, Check
from votectl.plan.cost import SECONDS_PER_MONTH
from votectl.plan.measured import MEASURED, Measured
from votectl.plan.rate import SHARE_HINT
from votectl.plan.writes import DEFAULT_REDELIVERY_SHARE, DEFAULT_REVOTE_SHARE
from votectl.plan.zipf import DEFAULT_S, DEFAULT_TITLES

__all__ = ["plan", "register"]


def plan(
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            help="Votes per second: 20000/s, 20k/s, 1.2M/min, 72M/h. Without it: the highest"
            " rates the stage holds.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help=f"Votes per request (1-{MAX_BATCH}); without --rate, default 1 and 100.",
        ),
    ] = None,
    revote_share: Annotated[
        str,
        typer.Option(
            "--revote-share",
            help="Share of votes that replace a stored vote (a failed PartiQL INSERT costs a"
            " write unit): 10%, 0.1.",
        ),
    ] = f"{DEFAULT_REVOTE_SHARE:.0%}",
    redelivery_share: Annotated[
        str,
        typer.Option(
            "--redelivery-share", help="Share of votes written again after they were stored."
        ),
    ] = f"{DEFAULT_REDELIVERY_SHARE:.0%}",
    titles: Annotated[
        int, typer.Option("--titles", help="Titles in the catalogue (Zipf popularity).")
    ] = DEFAULT_TITLES,
    zipf_s: Annotated[
        float, typer.Option("--zipf-s", help="Zipf exponent of title popularity (>= 0).")
    ] = DEFAULT_S,
    figures: Annotated[
        Path | None,
        typer.Option(
            "--figures", help="Handler figures: the JSON of benchmarks/aws_capacity.py --json."
        ),
    ] = None,
    stage: StageName = None,
    as_json: JsonOut = False,
) -> None:
    """What a vote rate needs of the stage, the limit it meets first, and what it costs.

    Without --rate: the highest single-vote and 100-vote-request rates the stage holds, and
    their cost (exit 0). With --rate: exits 1 if the rate does not fit, listing what to change.
    """
    votes_per_s = None
    if rate is not None:
        try:
            votes_per_s = parse_rate(rate)
        except ValueError as exc:
            raise UsageError(f"--rate: {exc}", hint=RATE_HINT) from None
    if batch_size is not None and not 1 <= batch_size <= MAX_BATCH:
        raise UsageError(
            f"--batch-size must be 1-{MAX_BATCH}, got {batch_size}",
            hint=f"the receiver takes at most {MAX_BATCH} votes a request",
        )
    if titles < 1 or zipf_s < 0:
        raise UsageError("--titles must be >= 1 and --zipf-s >= 0", hint="defaults: 10000, 1.1")
    shares = {}
    for flag, text in (("--revote-share", revote_share), ("--redelivery-share", redelivery_share)):
        try:
            shares[flag] = parse_share(text)
        except ValueError as exc:
            raise UsageError(f"{flag}: {exc}", hint=SHARE_HINT) from None
    measured = MEASURED if figures is None else _figures(figures)
    kw = {
        "titles": titles,
        "zipf_s": zipf_s,
        "measured": measured,
        "revote_share": shares["--revote-share"],
        "redelivery_share": shares["--redelivery-share"],
    }
    settings = load_stage(stage)
    if votes_per_s is None:
        batches = HOLDS_BATCHES if batch_size is None else (batch_size,)
        found = [holds(settings, b, **kw) for b in batches]
        data = {
            "schema": HOLDS_SCHEMA,
            "stage": settings.name,
            "front_door": settings.front_door,
            "write_path": settings.write_path,
            "write_units": found[0].plan.flow.write_units.to_json(),
            "table_headroom": HEADROOM,
            "holds": [h.to_json() for h in found],
        }
        emit(data, _holds_table(settings.name, found), as_json)
        if not as_json:
            out.print(_holds_summary(found), soft_wrap=True, markup=False, highlight=False)
        return
    result = plan_stage(settings, votes_per_s, batch_size or DEFAULT_BATCH, **kw)
    emit(result.to_json(), _render(result), as_json)
    if not as_json:  # never wrapped: one line per fix, as a script would grep it
        out.print(_summary(result), soft_wrap=True, markup=False, highlight=False)
    if not result.fits:
        failing = [c for c in (result.binding, result.binding_setting) if c and not c.fits]
        first = failing[0] if failing else None
        where = f": {first.component} binds first ({first.limit})" if first else ""
        raise DoesNotFit(f"{votes_per_s:,.0f} votes/s does not fit stage {result.stage}{where}")


def _figures(path: Path) -> Measured:
    try:
        return MEASURED.from_benchmark(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"--figures {path}: not readable as benchmark figures ({type(exc).__name__}: {exc})",
            hint="pass the output of `python benchmarks/aws_capacity.py --json`",
        ) from None


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _needs(result: Plan, name: str) -> str:
    f = result.flow
    if name == "api":
        return f"{_num(f.requests_per_s)} requests/s"
    if name == "table":
        return (
            f"{_num(f.write_units_per_s)} WRU/s; hottest shard key"
            f" {_num(f.hot_key_units_per_s)} WCU/s (top title {f.hot_title_share:.1%},"
            f" {result.settings.table_shards} shards)"
        )
    if name in ("votes queue", "ready queue"):
        q = f.votes_queue if name == "votes queue" else f.ready_queue
        return (
            f"{_num(q.messages_per_s)} msg/s of {q.message_bytes / 1024:.1f} KiB,"
            f" {_num(q.requests_per_s)} SQS requests/s, {_num(q.in_flight)} in flight"
        )
    fn = {"receiver": f.receiver, "processor": f.processor, "writer": f.writer}[name]
    return (
        f"{_num(fn.invocations_per_s)}/s x {_num(fn.duration_ms)} ms"
        f" ({_num(fn.votes_per_invocation)} votes) = {_num(fn.concurrency)} concurrent,"
        f" {fn.memory_mb} MB"
    )


def _headroom(check: Check) -> str:
    mark = "" if check.fits else "[bold red]✗ [/]"
    h = check.headroom
    return mark + ("-" if h == float("inf") else f"{h:.2f}x")


def _capacity(result: Plan) -> Fitted:
    rows = []
    for comp in result.components:
        label = "api (Function URL)" if comp.name == "api" and not comp.checks else comp.name
        needs = _needs(result, comp.name)
        if not comp.checks:
            rows.append([label, needs, "none (the receiver's concurrency)", "", "", ""])
        for i, c in enumerate(comp.checks):
            first = i == 0
            rows.append(
                [
                    label if first else "",
                    needs if first else "",
                    c.limit,
                    _num(c.need),
                    _num(c.value),
                    _headroom(c),
                ]
            )
    title = (
        f"plan for stage {result.stage} ({result.settings.front_door}):"
        f" {result.votes_per_s:,.0f} votes/s, {result.batch_size} a request"
    )
    return table(
        title, ["component", "needs", "limit", "need", "limit value", "headroom"], rows, left=3
    )


def _costs(result: Plan) -> Fitted:
    rate = result.votes_per_s
    rows = [
        [
            c.name,
            ", ".join(f"{k} ${v * SECONDS_PER_MONTH:,.0f}" for k, v in c.cost.parts.items()) or "-",
            f"${c.cost.monthly:,.0f}",
            f"${c.cost.per_million_votes(rate):.4f}",
        ]
        for c in result.components
    ]
    rows.append(["total", "", f"${result.monthly:,.0f}", f"${result.per_million_votes:.4f}"])
    p = result.prices
    title = f"cost ({p.region} list prices checked {p.checked}, a month = 730 h at this rate)"
    columns = ["component", "by item, per month", "per month", "per million votes"]
    return table(title, columns, rows, left=2)


def _summary(result: Plan) -> str:
    lines = []
    share = result.flow.hot_title_share
    lines.append(
        f"popularity: Zipf over {result.titles:,} titles, s = {result.zipf_s:g};"
        f" the top title gets {share:.1%} of the votes"
    )
    ramp = ", ".join(f"{k} {v:.1f} s" for k, v in result.ramp_seconds.items())
    lines.append(f"scale-up from idle: {ramp}")
    lines.append(f"write units: {result.flow.write_units.formula()}")
    lines.append(
        f"table limits kept with {HEADROOM - 1:.0%} headroom (need x {HEADROOM:g} <= limit)"
    )
    lines.extend(_write_paths(result))
    alt = result.alternative
    if alt is not None:
        saves = result.monthly - alt.monthly
        verb = "saves" if saves >= 0 else "costs"
        lines.append(
            f"front door: {alt.front_door} instead of {result.settings.front_door} {verb}"
            f" ${abs(saves):,.0f}/month (${alt.per_million_votes:.4f} per million votes;"
            f" {'fits' if alt.fits else 'does not fit'})"
        )
    for what, check in (
        ("binds first (AWS quota)", result.binding),
        ("binds before it (stage setting)", result.binding_setting),
    ):
        if check is not None:
            top = check.max_votes_per_s(result.votes_per_s)
            at = f" at about {top:,.0f} votes/s" if top is not None else ""
            lines.append(f"{what}: {check.component}: {check.limit}{at}")
    lines.append("fits" if result.fits else "does not fit; to fit:")
    lines.extend(f"  - {fix}" for fix in result.fixes)
    m = result.measured
    lines.append(f"handler figures: {'ESTIMATES, ' if m.estimate else ''}`{m.command}` of {m.date}")
    return "\n".join(lines)


def _write_paths(result: Plan) -> list[str]:
    cheaper = result.cheaper_write_path
    if cheaper is None or len(result.write_paths) < 2:
        return []
    each = "; ".join(
        f"{w.path} {w.write_units_per_vote:.3f} WRU/vote, writer {_num(w.writer_concurrency)}"
        f" concurrent, ${w.monthly:,.0f}/month (${w.per_million_votes:.4f} per million"
        f"{'' if w.fits else ', does not fit'})"
        for w in result.write_paths
    )
    share = result.flow.write_units.revote_share
    note = ""
    if cheaper.path != result.settings.write_path:
        note = f' (write_path = "{cheaper.path}"'
        note += ")" if cheaper.fits else "; does not fit the stage as set: plan it to see why)"
    return [f"write path: {each}", f"  cheaper at {share:.0%} re-votes: {cheaper.path}{note}"]


def _holds_table(stage: str, found: list[Holds]) -> Fitted:
    rows = []
    for h in found:
        b = h.binding
        rows.append(
            [
                f"{h.batch_size}",
                f"{h.votes_per_s:,.0f}",
                f"{h.votes_per_s / h.batch_size:,.0f}",
                "-" if b is None else f"{b.component}: {b.limit}",
                f"${h.plan.monthly:,.0f}" if h.votes_per_s else "-",
                f"${h.plan.per_million_votes:.4f}",
            ]
        )
    columns = [
        "votes a request",
        "votes/s",
        "requests/s",
        "binds first",
        "per month",
        "per million",
    ]
    return table(f"what stage {stage} holds", columns, rows, left=4)


def _holds_summary(found: list[Holds]) -> str:
    first = found[0].plan
    lines = [
        f"write units: {first.flow.write_units.formula()}",
        f"table limits kept with {HEADROOM - 1:.0%} headroom (need x {HEADROOM:g} <= limit)",
    ]
    for h in found:
        b = h.binding
        where = f"{h.batch_size} a request"
        if b is not None and not h.votes_per_s:
            lines.append(f"{where}: fits no rate: {b.component}: {b.limit}; {b.fix}")
        elif b is not None:
            kind = "a stage setting" if b.setting else "an AWS quota"
            lines.append(f"{where}: {b.component}: {b.limit} binds ({kind}; {b.source})")
        cheaper = h.plan.cheaper_write_path
        if cheaper is not None and h.votes_per_s:
            lines.append(f"  cheaper write path at that rate: {cheaper.path}")
    lines.append("`votectl plan --rate R` plans one rate in full")
    return "\n".join(lines)


def _render(result: Plan) -> Group:
    return Group(_capacity(result), _costs(result))


def register(app: typer.Typer) -> None:
    app.command()(plan)
