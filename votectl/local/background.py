"""`votectl up --detach` and `votectl down`: a `votectl up` that runs without a terminal.

Detach starts `votectl up --quiet` in its own session (no terminal, no Ctrl-C from the shell),
its output into <data-dir>/logs/up.log, and returns once the stack serves (up.json written by
the process holding the data dir's lock). Down sends that process SIGTERM, the signal
`votectl up` stops on gracefully (the gateways answer what is in flight, each poller finishes
its batch; an acknowledged vote is already in votes-queue.db), and waits for the lock to go.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from votectl.errors import PipelineFailed
from votectl.local.layout import Layout
from votectl.local.status import alive

__all__ = ["Detached", "Stopped", "detach", "stop"]

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0  # the supervisor's own graces are 6 s + 3 s


@dataclass(frozen=True)
class Detached:
    url: str
    data_dir: str
    pid: int
    log: str


@dataclass(frozen=True)
class Stopped:
    data_dir: str
    pid: int | None  # None: nothing was running


def log_path(layout: Layout) -> Path:
    return layout.logs_dir / "up.log"


def detach(layout: Layout, up_args: list[str]) -> Detached:
    """Start `votectl up UP_ARGS --quiet` in the background; return once it serves."""
    if layout.is_running():  # said here, not as "exited with code 1 while starting: ..."
        raise layout.taken()
    layout.create().logs_dir.mkdir(exist_ok=True)
    log = log_path(layout)
    with log.open("ab") as sink:
        start = sink.tell()
        proc = subprocess.Popen(
            [sys.executable, "-m", "votectl", "up", *up_args, "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,  # no terminal: the shell's Ctrl-C and hangup are not its
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        code = proc.poll()
        if code is not None:
            said, hint = _last_error(log, start)
            raise PipelineFailed(
                f"`votectl up` exited with code {code} while starting: {said}",
                hint=f"{hint}; its output is in {log}" if hint else f"its output is in {log}",
            )
        info = layout.up_info()
        if info is not None and info.get("pid") == proc.pid and layout.is_running():
            return Detached(str(info["url"]), str(layout.root), proc.pid, str(log))
        if time.monotonic() > deadline:
            proc.terminate()
            raise PipelineFailed(
                f"`votectl up` did not start serving within {START_TIMEOUT_SECONDS:.0f} s",
                hint=f"its output is in {log}",
            )
        time.sleep(0.05)


def _last_error(log: Path, start: int) -> tuple[str, str | None]:
    """The child's own error line and hint (``error: ...``, ``hint: ...``), else its last
    line."""
    with log.open("rb") as f:
        f.seek(start)
        lines = [line.strip() for line in f.read().decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    for n in range(len(lines) - 1, -1, -1):
        if lines[n].startswith("error: "):
            following = lines[n + 1] if n + 1 < len(lines) else ""
            hint = following.removeprefix("hint: ") if following.startswith("hint: ") else None
            return lines[n].removeprefix("error: "), hint
    return (lines[-1] if lines else "no output"), None


def stop(layout: Layout, timeout: float = STOP_TIMEOUT_SECONDS) -> Stopped:
    """SIGTERM to the `votectl up` serving ``layout``, and wait until it has let go."""
    if not layout.is_running():
        return Stopped(str(layout.root), None)
    deadline = time.monotonic() + timeout
    info = layout.up_info()
    while info is None or "pid" not in info:  # starting: up.json follows the lock shortly
        if not layout.is_running():
            return Stopped(str(layout.root), None)
        if time.monotonic() > deadline:
            raise PipelineFailed(f"the `votectl up` on {layout.root} wrote no up.json")
        time.sleep(0.05)
        info = layout.up_info()
    pid = int(info["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    while layout.is_running() or alive(pid):  # the lock goes first, then the process
        if time.monotonic() > deadline:
            raise PipelineFailed(
                f"`votectl up` (pid {pid}) did not stop within {timeout:.0f} s",
                hint=f"`kill -9 {pid}` stops it at once; acknowledged votes stay in the queue",
            )
        time.sleep(0.05)
    return Stopped(str(layout.root), pid)
