"""docs/operating-notes.md: every command it shows runs, in order, in a fresh directory (bash,
a free port for 8000), and ends with nothing left running."""

from __future__ import annotations

import re
from pathlib import Path

from tests.bash_runner import joined, run_in_bash
from tests.functional.conftest import ROOT

PAGE = ROOT / "docs" / "operating-notes.md"


def console_lines(text: str) -> list[str]:
    """The ``$ `` lines of every console block, continuation lines joined."""
    lines: list[str] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        lines += [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    return joined(lines)


def test_the_operating_notes_commands_run(tmp_path: Path) -> None:
    lines = console_lines(PAGE.read_text())
    assert lines[0].startswith("votectl up --detach") and "votectl down" in lines
    code, out, err = run_in_bash(lines, tmp_path, timeout=300)
    assert code == 0, err[-3000:]
    assert '"accepted":1' in out
    assert err.count("nothing runs on") == 1  # the second `down` of the first block
    assert "Traceback" not in err
    assert not (tmp_path / ".votectl" / "local" / "up.json").exists()
