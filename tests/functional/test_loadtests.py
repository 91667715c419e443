"""The Locust scenarios against a real `votectl up`, and `votectl loadtest` end to end.

Each Locust run is a few seconds; what is asserted are counts, never speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import Up, short_loadtest, votectl
from votectl.loadtest import loadtests_dir


def locust(url: str, tmp_path: Path, *args: str, rc: int = 0) -> tuple[dict[str, Any], str]:
    """Run the loadtests headless against ``url``; returns the summary and Locust's log."""
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(loadtests_dir()),
            "--host",
            url,
            "--headless",
            "--only-summary",
            "--summary-file",
            str(summary),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == rc, result.stderr[-2000:]  # Locust exits 1 on any failure
    return json.loads(summary.read_text()), result.stderr


def test_voters_count_votes_and_lose_none(up: Up, tmp_path: Path) -> None:
    summary, log = locust(
        up.url,
        tmp_path,
        "-u",
        "6",
        "-t",
        "3s",
        "--batch-size",
        "50",
        "SingleVoter",
        "BatchVoter",
        "Revoter",
    )
    assert summary["requests"] > 0 and summary["failures"] == 0 and summary["errors"] == []
    assert summary["votes_accepted"] > summary["accepted_requests"]  # a batch counts its votes
    assert 0 < summary["distinct_votes"] < summary["votes_accepted"]  # re-votes are not distinct
    assert summary["votes_per_s"] > 0 and "votes/s" in log
    up.drained()
    # requests in flight when Locust stops are stored but never seen as 202: >=, not ==
    assert up.stored() >= summary["distinct_votes"]


def test_distributed_processes_never_collide(up: Up, tmp_path: Path) -> None:
    summary, _ = locust(up.url, tmp_path, "--processes", "2", "-u", "4", "-t", "3s", "SingleVoter")
    assert summary["failures"] == 0 and summary["distinct_votes"] > 0
    up.drained()
    # colliding user ids would make the summed distinct count exceed what the table holds
    assert summary["distinct_votes"] <= up.stored() <= summary["distinct_votes"] + 4


def test_bad_clients_get_the_promised_4xx(up: Up, tmp_path: Path) -> None:
    summary, _ = locust(up.url, tmp_path, "-u", "2", "-t", "2s", "BadClient")
    assert summary["requests"] > 20 and summary["failures"] == 0
    assert summary["votes_accepted"] == 0 and up.stored() == 0


class _AcceptEverything(BaseHTTPRequestHandler):
    """A server that breaks the contract: 202 for anything."""

    def _accept(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"accepted":1,"request_id":"x"}'
        self.send_response(202)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _accept

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def lax_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptEverything)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_bad_clients_fail_a_server_that_accepts_anything(lax_server: str, tmp_path: Path) -> None:
    summary, _ = locust(lax_server, tmp_path, "-u", "1", "-t", "2s", "BadClient", rc=1)
    assert summary["requests"] > 0 and summary["failures"] == summary["requests"]
    errors = {(e["name"], e["error"]) for e in summary["errors"]}
    assert ("bad: oversized", "expected 413, got 202") in errors
    assert ("bad: wrong-method", "expected 405, got 202") in errors


def test_a_shape_is_used_only_when_asked_for(up: Up, tmp_path: Path) -> None:
    _, plain = locust(up.url, tmp_path, "-u", "3", "-t", "2s", "SingleVoter")
    _, shaped = locust(up.url, tmp_path, "-u", "8", "-t", "2s", "--shape", "step", "SingleVoter")
    assert "Shape test" not in plain and "Ramping to 3 users" in plain
    assert "Shape test updating to 2 users" in shaped  # the first of four steps up to -u 8
    assert "will be ignored" not in shaped  # the shape reads -u/-r/-t


def test_votectl_loadtest_against_the_running_up(up: Up, tmp_path: Path) -> None:
    result = short_loadtest(
        up, tmp_path, "-c", "SingleVoter", "-c", "Revoter", "--json", users=6, seconds=3
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["url"] == up.url and out["lost"] == 0 and out["verification"]["drained"]
    assert out["verification"]["stored"] >= out["distinct_votes"] > 0
    assert out["requests"]["failures"] == 0 and out["votes_per_s"] > 0
    assert (tmp_path / "report" / "report.html").exists()
    assert (tmp_path / "report" / "locust_stats.csv").exists()


def test_votectl_loadtest_starts_a_pipeline_when_none_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "local"
    result = votectl(
        "loadtest",
        "--data-dir",
        str(data_dir),
        "--report-dir",
        str(tmp_path / "report"),
        "-u",
        "4",
        "-t",
        "2s",
        "-c",
        "BatchVoter",
        "--batch-size",
        "100",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "starting `votectl up`" in result.stderr and "lost" in result.stdout
    assert not (data_dir / "up.json").exists()  # stopped after the run


def test_votectl_loadtest_refuses_bad_flags() -> None:
    result = votectl("loadtest", "--shape", "sawtooth", "--no-verify")
    assert result.returncode == 2 and "--shape" in result.stderr
