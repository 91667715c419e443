"""The `votectl` console script: a process `votectl up` spawns imports the script that started
its parent, and must not import the CLI with it (votectl/launch.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI_MODULES = ("typer", "rich", "votectl.cli")


def imported_by_running(script: Path, run_name: str) -> list[str]:
    """Which of CLI_MODULES a fresh interpreter holds after running ``script`` as
    ``run_name`` (multiprocessing's spawn runs the parent's main script as ``__mp_main__``)."""
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(script)!r}, run_name={run_name!r})\n"
        f"print(','.join(m for m in {CLI_MODULES!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return [m for m in done.stdout.strip().split(",") if m]


def test_a_spawned_child_imports_the_console_script_without_the_cli() -> None:
    script = Path(sys.executable).parent / "votectl"
    assert script.is_file(), "the console script is installed beside this interpreter"
    assert imported_by_running(script, "__mp_main__") == []


def test_the_console_script_still_runs_the_cli() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "votectl"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "votectl" in done.stdout and "up" in done.stdout
