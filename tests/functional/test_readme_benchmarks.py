"""Every `python benchmarks/...` line of the README names a script that exists and flags it
takes. The measurements themselves run for minutes on a quiet machine, so CI runs them only in
their quick forms (test_capacity_benchmark, test_soak); here each script's --help is asked
for the flags the README shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINES = sorted(
    set(
        re.findall(
            r"python (benchmarks/\w+\.py(?: --?[\w-]+(?: [\w.,/-]+)?)*)",
            (ROOT / "README.md").read_text(),
        )
    )
)


def test_the_readme_shows_benchmark_lines() -> None:
    assert len(LINES) >= 8


@pytest.mark.parametrize("line", LINES)
def test_each_readme_benchmark_line_names_real_flags(line: str) -> None:
    script, *args = line.split()
    assert (ROOT / script).is_file(), script
    done = subprocess.run(
        [sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for flag in (a for a in args if a.startswith("--")):
        assert flag in done.stdout, f"{script} has no {flag}"
