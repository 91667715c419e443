"""docs/canary.md's console blocks, run as a user runs them: in bash, in a fresh directory,
`votectl up &` on a free port (the README runner's rules, tests/functional/test_readme_auth.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bash_runner import ROOT, joined, run_in_bash

PAGE = ROOT / "docs" / "canary.md"


def console_blocks() -> list[list[str]]:
    """Each ```console block's commands: "$ " stripped, continuation lines joined."""
    blocks = re.findall(r"```console\n(.*?)```", PAGE.read_text(), re.S)
    out = []
    for block in blocks:
        lines = block.strip().splitlines()
        assert all(line.startswith("$ ") or lines[i - 1].endswith("\\")
                   for i, line in enumerate(lines)), block  # fmt: skip
        out.append(joined([line.removeprefix("$ ") for line in lines]))
    return out


BLOCKS = console_blocks()


def test_the_page_shows_the_three_blocks_this_test_expects() -> None:
    assert len(BLOCKS) == 3
    assert BLOCKS[0][0] == "votectl up &" and BLOCKS[2][-1].startswith("votectl canary")


@pytest.mark.parametrize(
    "index, code, said",
    [(0, 0, '"ok": true'), (1, 0, "user votectl-canary,"), (2, 1, "stopped at the writer")],
)
def test_the_docs_commands_run(tmp_path: Path, index: int, code: int, said: str) -> None:
    returned, out, err = run_in_bash(BLOCKS[index], tmp_path, timeout=120)
    assert returned == code, err[-3000:]
    assert said in out + err
    assert "Traceback" not in err
