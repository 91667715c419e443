"""`votectl loadtest` fails (exit 1) when the run failed: requests failing beyond
--max-failure-ratio, or a `votectl up` that died in place."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

from tests.functional.conftest import Up, poll, short_loadtest, votectl


def loadtest(up: Up, tmp_path: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    result = short_loadtest(up, tmp_path, "--json", *extra)
    report = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, report, result.stderr


def test_every_request_failing_exits_1(up_factory: Callable[..., Up], tmp_path: Path) -> None:
    up = up_factory("--chaos", "receiver=1")
    code, report, stderr = loadtest(up, tmp_path)
    assert code == 1, stderr[-2000:]
    requests = report["requests"]
    assert isinstance(requests, dict) and requests["failures"] == requests["requests"] > 0
    assert report["votes_accepted"] == 0 and report["lost"] == 0  # nothing accepted, none lost
    assert "requests failed" in stderr and "--max-failure-ratio" in stderr and "hint:" in stderr


def test_max_failure_ratio_allows_failures(up_factory: Callable[..., Up], tmp_path: Path) -> None:
    up = up_factory("--chaos", "receiver=0.3")
    code, report, stderr = loadtest(up, tmp_path, "--max-failure-ratio", "0.9")
    assert code == 0, stderr[-2000:]
    requests = report["requests"]
    assert isinstance(requests, dict) and 0 < requests["failures"] < requests["requests"]
    assert report["lost"] == 0


def test_a_bad_max_failure_ratio_is_a_usage_error() -> None:
    result = votectl("loadtest", "--max-failure-ratio", "2")
    assert result.returncode == 2 and "--max-failure-ratio" in result.stderr


def test_a_dead_up_is_not_reused(up: Up, tmp_path: Path) -> None:
    supervisor = json.loads((up.data_dir / "up.json").read_text())["pid"]
    os.kill(supervisor, signal.SIGKILL)  # no cleanup: up.json stays behind
    # not reaped: a zombie, which os.kill(pid, 0) still finds
    poll(lambda: Path(f"/proc/{supervisor}/stat").read_text().split(")")[1].split()[0] == "Z")
    os.kill(supervisor, 0)
    code, _, stderr = loadtest(up, tmp_path)
    assert code == 1, stderr[-2000:]
    assert "is not running" in stderr and "hint:" in stderr and "Traceback" not in stderr
