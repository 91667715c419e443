"""docs/write-path.md: every command its console blocks show runs and succeeds. The capacity
benchmark's full run takes minutes of CPU, so it runs here in its quick form (as
test_capacity_benchmark does); the page's figures are the full run's."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "write-path.md"


def commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", PAGE.read_text(), re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_the_page_shows_commands_that_run() -> None:
    shown = commands()
    assert shown, "no console block"
    for command in shown:
        argv = shlex.split(command)
        assert argv[0] == "python", command
        if argv[1] == "benchmarks/aws_capacity.py" and "--quick" not in argv:
            argv.append("--quick")
        done = subprocess.run(
            [sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
