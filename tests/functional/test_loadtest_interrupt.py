"""Ctrl-C on `votectl loadtest` against a running `votectl up` stops Locust too: the accepted
count stops growing and no Locust process outlives the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.functional.conftest import Up, live_processes, poll


def _accepted(up: Up) -> int:
    try:
        return int(json.loads((up.data_dir / "up-status.json").read_text())["accepted"])
    except (OSError, ValueError, KeyError):
        return 0


def _locusts(marker: str) -> list[int]:
    """Pids of the live Locust processes whose command line holds ``marker`` (this run's
    report dir)."""
    return [p.pid for p in live_processes() if "locust" in p.cmdline and marker in p.cmdline]


def _stable(up: Up) -> bool:
    """The accepted total unchanged across two of `votectl up`'s status writes (1 s apart)."""
    before, at = _accepted(up), (up.data_dir / "up-status.json").stat().st_mtime
    poll(lambda: (up.data_dir / "up-status.json").stat().st_mtime > at + 1.5, timeout=10)
    return _accepted(up) == before


def test_ctrl_c_stops_locust(up_factory: Callable[..., Up], tmp_path: Path) -> None:
    up = up_factory()
    report = tmp_path / "interrupted-report"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "votectl",
            "loadtest",
            "--data-dir",
            str(up.data_dir),
            "--report-dir",
            str(report),
            "-u",
            "5",
            "-t",
            "90s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    try:
        poll(lambda: _accepted(up) > 200, timeout=60)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr[-2000:]
        assert stderr.rstrip().endswith("error: interrupted"), stderr[-2000:]
        assert "Traceback" not in stderr
        poll(lambda: _stable(up), timeout=30, interval=0)
        assert _locusts(str(report)) == []
    finally:
        for pid in _locusts(str(report)):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert up.proc.poll() is None  # the stack it used runs on
