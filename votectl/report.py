"""The load test's pipeline report: one self-contained HTML page (inline SVG, no script, no
CDN) plotting requests/s, votes/s accepted, p50/p99 latency, each queue's depth and the table
count over the run and the drain, so a user sees where the backlog built and how long it took
to clear.

``recording(ops, path)`` samples the pipeline once a second in a thread (the same samples as
`votectl watch`) while the load runs and the queues drain; Locust's ``*_stats_history.csv``
gives the request side. On leaving, the page is written.
"""

from __future__ import annotations

import csv
import html
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from votectl.operations import Operations
from votectl.watch import Sample, sampler_for

__all__ = ["Recorder", "Series", "recording", "render_html", "svg_chart"]

Series = dict[str, list[tuple[float, float]]]  # label -> (unix seconds, value)
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


@dataclass
class Recorder:
    """Samples taken so far and the moments that split the run (load ends, drain ends)."""

    sample: Callable[[], Sample]
    interval: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    errors: int = 0

    def mark(self, name: str) -> None:
        self.marks[name] = time.time()

    def run(self, stop: threading.Event) -> None:
        while True:
            try:
                self.samples.append(self.sample())
            except Exception:  # a failed reading leaves a gap, never stops the load test
                self.errors += 1
            if stop.wait(self.interval):
                return


@contextmanager
def recording(
    ops: Operations, html_path: Path, locust_history: Path, interval: float = 1.0
) -> Iterator[Recorder]:
    """Sample the pipeline while the block runs; then write the page to ``html_path``."""
    recorder = Recorder(sampler_for(ops, clock=time.time), interval)
    recorder.mark("start")
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        stop.set()
        thread.join(10)
        recorder.mark("end")
        html_path.write_text(render_html(recorder, read_history(locust_history)))


def read_history(path: Path) -> dict[str, Series]:
    """Locust's aggregated history: requests/s and failures/s a second, and p50/p99 latency.

    The rates come from the rows' running totals (Total Request Count, Total Failure Count),
    as votes/s accepted comes from `votectl up`'s running total: both series then start with
    the load. Locust's own Requests/s column is a rolling figure that reads 0 for the first
    two seconds of a run.
    """
    rates: Series = {"requests/s": [], "failures/s": []}
    latency: Series = {"p50 ms": [], "p99 ms": []}
    totals: list[tuple[float, float, float]] = []  # (at, requests, failures)
    try:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("Name") != "Aggregated":
                    continue
                at = float(row["Timestamp"])
                totals.append(
                    (at, _num(row["Total Request Count"]), _num(row["Total Failure Count"]))
                )
                latency["p50 ms"].append((at, _num(row["50%"])))
                latency["p99 ms"].append((at, _num(row["99%"])))
    except (OSError, KeyError, ValueError):
        pass  # no history: the page says so
    if totals:
        rates["requests/s"].append((totals[0][0], 0.0))
        rates["failures/s"].append((totals[0][0], 0.0))
    for (t0, r0, f0), (t1, r1, f1) in zip(totals, totals[1:], strict=False):
        if t1 > t0:
            rates["requests/s"].append((t1, max(0.0, (r1 - r0) / (t1 - t0))))
            rates["failures/s"].append((t1, max(0.0, (f1 - f0) / (t1 - t0))))
    return {"requests": rates, "latency": latency}


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # Locust writes "N/A" before the first request
        return 0.0


def _pipeline_series(samples: list[Sample]) -> tuple[Series, Series, Series]:
    depths: Series = {}
    table: Series = {"votes in the table": []}
    accepted: Series = {"votes/s accepted": []}
    for s in samples:
        for q in s.queues:
            depths.setdefault(q.name, []).append((s.at, q.visible + q.in_flight + q.delayed))
        table["votes in the table"].append((s.at, s.table))
    # each total at the moment `votectl up` counted it (its own clock, as Locust's rows are),
    # not when the sampler read it: read twice, a total counts once
    totals = sorted(
        {
            (s.pulse.accepted_at or s.at, s.pulse.accepted)
            for s in samples
            if s.pulse.accepted is not None
        }
    )
    if totals:  # as requests/s: the series starts at the first total, at 0
        accepted["votes/s accepted"].append((totals[0][0], 0.0))
    for (t0, a0), (t1, a1) in zip(totals, totals[1:], strict=False):
        if t1 > t0:
            accepted["votes/s accepted"].append((t1, max(0.0, (a1 - a0) / (t1 - t0))))
    return depths, table, accepted


def svg_chart(
    title: str,
    series: Series,
    start: float,
    end: float,
    marks: dict[str, float],
    width: int = 860,
    height: int = 220,
) -> str:
    """One line chart as inline SVG: x = seconds since ``start``, y from 0 to the maximum."""
    left, right, top, bottom = 60, 20, 30, 30
    span = max(end - start, 1.0)
    peak = max((v for points in series.values() for _, v in points), default=0.0) or 1.0

    def x(t: float) -> float:  # a reading a moment outside the run sits on its edge
        return left + (min(max(t, start), start + span) - start) / span * (width - left - right)

    def y(v: float) -> float:
        return height - bottom - v / peak * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="18" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{y(0)}" x2="{width - right}" y2="{y(0)}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{y(peak) + 4}" text-anchor="end">{peak:,.0f}</text>',
        f'<text x="{left - 6}" y="{y(0) + 4}" text-anchor="end">0</text>',
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end">{span:,.0f} s</text>',
    ]
    shown = sorted((at, name) for name, at in marks.items() if start <= at <= end)
    for row, (at, name) in enumerate(shown):  # a row each: marks close in time never overlap
        label_y = top + 10 + 13 * row
        beyond = x(at) > width - right - 90  # near the right edge: the label to the left
        label_x = x(at) - 3 if beyond else x(at) + 3
        parts.append(
            f'<line x1="{x(at):.1f}" y1="{top}" x2="{x(at):.1f}" y2="{y(0)}" '
            f'stroke="#aaa" stroke-dasharray="4 3"/><text x="{label_x:.1f}" y="{label_y}" '
            f'font-size="11" text-anchor="{"end" if beyond else "start"}">'
            f"{html.escape(name)}</text>"
        )
    for n, (label, points) in enumerate(series.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        if points:
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>'
            )
        parts.append(
            f'<text x="{left + 10 + 170 * n}" y="{height - 8}" fill="{colour}">'
            f"{html.escape(label)}{'' if points else ' (no data)'}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(recorder: Recorder, history: dict[str, Series]) -> str:
    depths, table, accepted = _pipeline_series(recorder.samples)
    start = recorder.marks.get("start", 0.0)
    end = recorder.marks.get("end", start)
    marks = {k: v for k, v in recorder.marks.items() if k not in ("start", "end")}
    requests = {**history["requests"], **accepted}
    charts = [
        svg_chart("requests/s and votes/s accepted", requests, start, end, marks),
        svg_chart("latency (ms)", history["latency"], start, end, marks),
        svg_chart("queue depth (messages, not votes)", depths, start, end, marks),
        svg_chart("votes in the table", table, start, end, marks),
    ]
    note = (
        f"{len(recorder.samples)} pipeline samples, {recorder.errors} failed readings. "
        "Votes/s accepted needs a running `votectl up` (the local target); on AWS the table "
        "count is DescribeTable's estimate."
    )
    body = "\n".join(f"<figure>{c}</figure>" for c in charts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>votectl loadtest: the pipeline</title>"
        "<style>body{font:14px sans-serif;margin:2em}figure{margin:0 0 1.5em}"
        "svg text{font:12px sans-serif}</style></head><body>"
        "<h1>votectl loadtest: the pipeline over the run and the drain</h1>"
        f"<p>{html.escape(note)}</p>{body}</body></html>\n"
    )
