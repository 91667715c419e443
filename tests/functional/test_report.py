"""`votectl loadtest`'s pipeline page: a real run against `votectl up`, and the charts' maths."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.functional.conftest import Up, votectl
from votectl.model import Pulse, QueueStat
from votectl.report import Recorder, read_history, render_html, svg_chart
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
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,99%\n"
        "100,1,,Aggregated,N/A,0,N/A,N/A\n101,1,POST,/votes,5,0,3,9\n102,1,,Aggregated,7.5,0,3,9\n"
    )
    read = read_history(history)
    assert read["requests"]["requests/s"] == [(100.0, 0.0), (102.0, 7.5)]
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
