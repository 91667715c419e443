"""The README's "Running it locally" commands, run as a user runs them (in a bash shell, in a
fresh directory), on a free port instead of 8000; `votectl up` in the background, as in a
second terminal."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.functional.test_readme_auth import ROOT, free_port, joined, readme_block, script


def test_the_readme_local_commands_run(tmp_path: Path) -> None:
    lines = joined(readme_block("## Running it locally"))
    assert lines[0].split("#")[0].strip() == "votectl up"
    lines[0] = "votectl up &"  # the README's other terminal
    assert lines[-1] == "votectl results dark-s1"
    # a person types it a moment later; here: once the vote has passed the queues
    lines.insert(-1, "until votectl results dark-s1 >/dev/null 2>&1; do sleep 0.1; done")
    port = free_port()
    proc = subprocess.Popen(
        ["bash", "-c", script(lines, port)],
        cwd=tmp_path,
        env={**os.environ, "PY": sys.executable, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # the `votectl up &` left running
    # `votectl results` exits 1 for a title without votes: 0 means the vote was stored
    assert proc.returncode == 0, err[-3000:]
    assert '"accepted":1' in out.split("---\n")[1]
    assert "story" in out and "Traceback" not in err
    assert (tmp_path / ".votectl" / "local" / "votes-table.db").exists()  # the default data dir
