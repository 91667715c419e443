"""A `votectl up` child process for the commands that need a pipeline for a while."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from votectl.errors import PipelineFailed
from votectl.local.layout import Layout
from votectl.operations import wait_for

__all__ = ["running_pipeline", "stop"]


def stop(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_pipeline(data_dir: Path, *extra: str, timeout: float = 30.0) -> Iterator[str]:
    """`votectl up` on a free port over ``data_dir``; yields its URL, then stops it (SIGTERM)."""
    layout = Layout.of(data_dir)
    cmd = [sys.executable, "-m", "votectl", "up", "--port", "0", "--quiet"]
    proc = subprocess.Popen(
        [*cmd, "--data-dir", str(data_dir), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                said = (proc.stderr.read() if proc.stderr else "").strip()
                raise PipelineFailed(f"`votectl up` exited: {said}")
            return layout.running_url() is not None

        wait_for(ready, timeout, "`votectl up` to listen")
        yield layout.running_url() or ""
    finally:
        stop(proc)
