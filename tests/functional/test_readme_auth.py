"""The README's "Authenticated votes" commands, run as a user runs them (in a bash shell, in a
fresh directory), on a free port instead of 8000 and for 2 s instead of 30."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_block(heading: str = "## Authenticated votes") -> list[str]:
    """The first bash block under ``heading``."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1).strip().splitlines()


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


def test_the_readme_auth_commands_run(tmp_path: Path) -> None:
    lines = joined(readme_block())
    assert lines[0].startswith("votectl up --auth jwt &")
    (tmp_path / "loadtests").symlink_to(ROOT / "loadtests")
    code, out, err = run_in_bash(lines, tmp_path, timeout=240)
    assert code == 0, err[-3000:]
    replies = out.split("---\n")[1:]
    assert '"accepted":1' in replies[0]  # the vote with a token
    assert "a bearer token is required" in replies[1]  # the one without
    assert len((tmp_path / "tokens.txt").read_text().split()) == 50
    assert "lost" in out and "Traceback" not in err
    assert (tmp_path / ".votectl" / "local" / "jwt-secret").stat().st_mode & 0o777 == 0o600
