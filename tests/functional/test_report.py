"""`votectl loadtest`'s pipeline page: a real run against `votectl up`, and the charts' maths."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.functional.conftest import Up, votectl
from votectl.model import Pulse, QueueStat
from votectl.report import Recorder, _pipeline_series, read_history, render_html, svg_chart
from votectl.watch import Sample


def test_loadtest_writes_a_self_contained_pipeline_page(up: Up, tmp_path: Path) -> None:
    report = tmp_path / "report"
    done = votectl(
        "loadtest",
        "--data-dir",
        str(up.data_dir),
        "--report-dir",
        str(report),
        "-u",
        "4",
        "-t",
        "3s",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    page = Path(out["pipeline_html"])
    assert page == report / "pipeline.html"
    text = page.read_text()
    assert text.count("<svg") == 4
    assert not re.search(r"<script|<link|\bsrc=|href=", text)  # nothing fetched: offline
    for words in (
        "requests/s",
        "votes/s accepted",
        "p99 ms",
        "ready-dlq",
        "votes in the table",
        "load ends",
        "drained",
    ):
        assert words in text, words
    assert "(no data)" not in text  # every series was sampled
    lines = re.findall(r'<polyline[^>]*points="([^"]+)"', text)
    assert len(lines) >= 9 and all(len(points.split()) >= 2 for points in lines)


def test_a_chart_scales_to_its_peak_and_marks_the_drain(tmp_path: Path) -> None:
    svg = svg_chart(
        "t",
        {"a": [(0.0, 0.0), (5.0, 10.0), (10.0, 5.0)]},
        0.0,
        10.0,
        {"load ends": 5.0},
        width=200,
        height=100,
    )
    points = re.search(r'points="([^"]+)"', svg)
    assert points is not None
    xs_ys = [tuple(map(float, p.split(","))) for p in points.group(1).split()]
    assert [x for x, _ in xs_ys] == [60.0, 120.0, 180.0]  # left margin 60, right 20
    assert xs_ys[1][1] == 30.0 and xs_ys[0][1] == 70.0  # the peak at the top, 0 at the bottom
    assert "load ends" in svg and ">10<" in svg

    history = tmp_path / "h.csv"
    history.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,99%,"
        "Total Request Count,Total Failure Count\n"
        "100,1,,Aggregated,N/A,0,N/A,N/A,0,0\n101,1,POST,/votes,5,0,3,9,5,0\n"
        "102,1,,Aggregated,7.5,0,3,9,15,1\n"
    )
    read = read_history(history)
    assert read["requests"]["requests/s"] == [(100.0, 0.0), (102.0, 7.5)]
    assert read["requests"]["failures/s"] == [(100.0, 0.0), (102.0, 0.5)]
    assert read["latency"]["p99 ms"] == [(100.0, 0.0), (102.0, 9.0)]

    queues = [QueueStat("votes", 3, 0, 0, False)]
    recorder = Recorder(lambda: Sample(0, [], 0, Pulse()))
    recorder.samples = [
        Sample(100.0, queues, 0, Pulse(accepted=0)),
        Sample(102.0, queues, 40, Pulse(accepted=100)),
    ]
    recorder.marks = {"start": 100.0, "end": 102.0}
    page = render_html(recorder, read)
    assert "votes/s accepted" in page and ">50<" in page  # 100 votes in 2 s: the peak


def test_requests_per_second_start_with_the_load(tmp_path: Path) -> None:
    """Locust's Requests/s column reads 0 for a run's first two seconds; the chart's rate comes
    from the running totals, as votes/s accepted does, so both start together."""
    history = tmp_path / "h.csv"
    history.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,99%,"
        "Total Request Count,Total Failure Count\n"
        "100,0,,Aggregated,0.000000,0.000000,N/A,N/A,0,0\n"
        "101,5,,Aggregated,0.000000,0.000000,1,20,1869,0\n"
        "102,5,,Aggregated,0.000000,0.000000,1,20,5598,0\n"
        "103,5,,Aggregated,3700.0,0.000000,1,20,9300,0\n"
    )
    rates = read_history(history)["requests"]["requests/s"]
    assert rates == [(100.0, 0.0), (101.0, 1869.0), (102.0, 3729.0), (103.0, 3702.0)]


def test_marks_close_in_time_get_labels_of_their_own() -> None:
    svg = svg_chart("t", {"a": [(0.0, 1.0)]}, 0.0, 100.0, {"load ends": 90.0, "drained": 90.4})
    labels = {
        m.group(3): (float(m.group(1)), float(m.group(2)))
        for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)" font-size="11"[^>]*>([^<]+)<', svg)
    }
    assert set(labels) == {"load ends", "drained"}
    assert labels["load ends"][1] != labels["drained"][1]  # one row each: no overprint


def test_votes_per_second_are_placed_when_up_counted_them() -> None:
    """The sampler may read `votectl up`'s total twice, a second after it was counted: each
    total counts once, at the time up wrote it."""
    queues = [QueueStat("votes", 0, 0, 0, False)]
    recorder = Recorder(lambda: Sample(0, [], 0, Pulse()))
    recorder.samples = [
        Sample(100.9, queues, 0, Pulse(accepted=0, accepted_at=100.0)),
        Sample(101.9, queues, 0, Pulse(accepted=300, accepted_at=101.0)),
        Sample(102.0, queues, 0, Pulse(accepted=300, accepted_at=101.0)),
        Sample(102.9, queues, 0, Pulse(accepted=900, accepted_at=102.0)),
    ]
    _, _, accepted = _pipeline_series(recorder.samples)
    assert accepted["votes/s accepted"] == [(100.0, 0.0), (101.0, 300.0), (102.0, 600.0)]
