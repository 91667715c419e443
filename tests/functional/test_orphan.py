"""A child of `votectl up` notices its supervisor is gone even when the supervisor died while
the child was still starting (votectl/local/orphan.py). The child here is spawned as the
supervisor spawns its children, and looks only after its parent has been killed with -9."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.functional.conftest import ROOT, poll


def report_after_the_parent_died(out: str) -> None:
    """In the spawned child: wait for the parent to be gone, then say what the check sees."""
    import multiprocessing

    from votectl.local.orphan import supervisor_alive

    parent = multiprocessing.parent_process()
    assert parent is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(parent.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    Path(out).write_text(f"{supervisor_alive()} {os.getppid() != parent.pid}")


SUPERVISOR = """
import multiprocessing, sys, time
from tests.functional.test_orphan import report_after_the_parent_died
child = multiprocessing.get_context("spawn").Process(
    target=report_after_the_parent_died, args=(sys.argv[1],))
child.start()
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_whose_supervisor_died_before_it_looked_sees_it_gone(tmp_path: Path) -> None:
    out = tmp_path / "seen"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert supervisor.stdout is not None
    child = int(supervisor.stdout.readline())
    try:
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(10)
        seen = poll(lambda: out.exists() and out.read_text(), timeout=60)
        # reparented already when it looked, as a child still starting would be; and it knows
        assert seen == "False True"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
