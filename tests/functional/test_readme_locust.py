"""Every Locust command line the README shows, run headless for a few seconds against a real
`votectl up`: the host becomes the pipeline's URL, the run time 3 s, the summary a temp file."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.conftest import Up

ROOT = Path(__file__).resolve().parents[2]
# lines with tokens need `votectl up --auth jwt`: tests/functional/test_readme_auth.py runs them
README_LOCUST = [
    line.split("#")[0].strip()
    for line in (ROOT / "README.md").read_text().splitlines()
    if line.startswith("locust -f loadtests")
    and "--token-file" not in line
    and "--jwt-secret-file" not in line
]


def adapt(line: str, url: str, summary: Path) -> list[str]:
    """The README's command line, made to run headless for 3 s against ``url``."""
    args = shlex.split(line)[1:]
    options = {"--host": url, "-t": "3s", "--summary-file": str(summary)}
    for flag, value in options.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    if "--headless" not in args:
        args.append("--headless")  # the web UI line: the same run without the browser
    return [sys.executable, "-m", "locust", *args, "--only-summary"]


def test_the_readme_shows_locust_command_lines() -> None:
    assert len(README_LOCUST) >= 5
    assert any("--tags batch" in line for line in README_LOCUST)


@pytest.mark.parametrize("line", README_LOCUST)
def test_every_readme_locust_line_runs(line: str, up: Up, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        adapt(line, up.url, summary),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "No tasks defined" not in result.stderr
    report = json.loads(summary.read_text())
    assert report["requests"] > 0 and report["failures"] == 0, report
    if "--tags batch" in line:  # only batches were sent: 500 votes each
        assert report["votes_accepted"] == 500 * report["accepted_requests"] > 0
    assert not re.search(r"Traceback", result.stderr)
