"""Shell lines from the docs run as a user runs them: in bash, in a fresh directory, on a free
port instead of 8000; a `votectl up &` they start is stopped after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def script(lines: list[str], port: int) -> str:
    out = [
        "set -euo pipefail",
        'votectl() { "$PY" -m votectl "$@"; }',
        'locust() { "$PY" -m locust "$@"; }',
    ]
    for line in lines:
        line = line.replace("8000", str(port)).replace("-t 30s", "-t 2s")
        line = line.replace("-u 50", "-u 4")
        if line.startswith("votectl up "):
            # its output to a file: a background job holding our pipes would keep them open
            line = line.replace(" &", f" --port {port} --quiet >up.log 2>&1 &", 1)
            out += [line, f"until curl -sf localhost:{port}/health >/dev/null; do sleep 0.1; done"]
        elif line.startswith("curl "):
            out += ['echo "---"', line, "echo"]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def joined(lines: list[str]) -> list[str]:
    """Continuation lines (ending in a backslash) joined, as bash reads them."""
    out: list[str] = []
    for line in lines:
        if out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1] + line.strip()
        else:
            out.append(line)
    return out


def run_in_bash(lines: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
    """README lines run by bash in ``cwd`` on a free port (see ``script``); the `votectl up &`
    they start is stopped after."""
    proc = subprocess.Popen(
        ["bash", "-c", script(lines, free_port())],
        cwd=cwd,
        env={**os.environ, "PY": sys.executable, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # the `votectl up &` left running
    return proc.returncode, out, err


