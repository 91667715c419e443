"""`votectl demo`, the README's first command, as a user runs it."""

from __future__ import annotations

import json

from tests.functional.conftest import votectl

# `votectl loadtest --json`: the figures both commands report, under the same names (README)
LOADTEST_KEYS = {
    "stage",
    "url",
    "duration_s",
    "votes_accepted",
    "votes_per_s",
    "distinct_votes",
    "pipeline_html",
    "requests",
    "errors",
    "verification",
    "lost",
    "report_dir",
    "html",
}
REQUEST_KEYS = {"requests", "failures", "requests_per_s", "p50_ms", "p99_ms"}
VERIFICATION_KEYS = {
    "drained",
    "drain_seconds",
    "count_before",
    "count_after",
    "dlq_messages",
    "stored",
}


def test_demo_stores_every_distinct_vote_it_accepted() -> None:
    result = votectl("demo", "--seconds", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == LOADTEST_KEYS | {"persisted_votes_per_s", "load_generator", "results"}
    assert set(report["requests"]) == REQUEST_KEYS
    assert set(report["verification"]) == VERIFICATION_KEYS
    assert report["distinct_votes"] > 100
    # every 202 of a single vote is one vote accepted; a user may vote a title twice
    assert report["votes_accepted"] >= report["distinct_votes"]
    assert report["votes_accepted"] <= report["requests"]["requests"]
    assert report["verification"]["stored"] >= report["distinct_votes"]
    assert report["lost"] == 0 and report["requests"]["failures"] == 0
    assert report["persisted_votes_per_s"] > 0 and report["votes_per_s"] > 0
    assert report["load_generator"] == {"locust_processes": 1, "users": 32}
    assert sum(a["votes"] for a in report["results"]["aspects"].values()) > 0
    assert "Traceback" not in result.stderr


def test_demo_table_names_202s_distinct_votes_and_its_bound() -> None:
    result = votectl("demo", "--seconds", "1", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    rows = {
        cells[0]: cells[1]
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert int(rows["votes accepted (202)"].replace(",", "")) > 0
    assert int(rows["distinct votes accepted"].replace(",", "")) > 0
    assert "1 Locust process" in rows["load generator"] and "the bound" in rows["load generator"]
    top = next(line for line in result.stdout.splitlines() if line.startswith("results for "))
    title = top.split()[2]
    assert f"{title} is a sample title id" in " ".join(result.stdout.split())
    # each phase says itself: no silent stretch between "starting" and "drain"
    phases = [line.split("demo: ", 1)[-1][:12] for line in result.stderr.splitlines()]
    assert phases == ["starting `vo", "driving 32 L", "waiting for "], result.stderr
