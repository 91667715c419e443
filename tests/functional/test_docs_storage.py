"""docs/storage.md's commands run as shown, shortened (fewer seconds and rounds, the same
flags), and print the figures the page quotes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "storage.md"
SHORTER = {"--seconds": "2", "--rounds": "1"}  # wrk takes whole seconds
EXPECTED = {
    "benchmarks/disk.py": "within bound: yes",
    "benchmarks/send_wait.py": ", lost: 0",
    "benchmarks/processor_queue.py": "current / baseline",
}


def console_commands() -> list[list[str]]:
    blocks = re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S)
    lines = [line[2:].split() for block in blocks for line in block.splitlines()]
    assert lines and all(args[0] == "python" for args in lines)
    return lines


def shortened(args: list[str]) -> list[str]:
    out = [sys.executable, *args[1:]]
    for i, arg in enumerate(out[:-1]):
        if arg in SHORTER:
            out[i + 1] = SHORTER[arg]
    return out


@pytest.mark.parametrize("args", console_commands(), ids=" ".join)
def test_the_storage_page_commands_run(args: list[str]) -> None:
    script = args[1]
    assert (ROOT / script).exists()
    if script == "benchmarks/disk.py" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    if script == "benchmarks/processor_queue.py":
        args = [*args, "--messages", "3000"]
    command = shortened(args)
    if script == "benchmarks/send_wait.py":  # four kinds of run a round: a second each
        command[command.index("--seconds") + 1] = "1"
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert EXPECTED[script] in done.stdout
    assert "Traceback" not in done.stderr
