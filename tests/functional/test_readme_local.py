"""The README's "Running it locally" commands, run as a user runs them (in a bash shell, in a
fresh directory), on a free port instead of 8000; `votectl up` in the background, as in a
second terminal."""

from __future__ import annotations

from pathlib import Path

from tests.functional.test_readme_auth import joined, readme_block, run_in_bash


def test_the_readme_local_commands_run(tmp_path: Path) -> None:
    lines = joined(readme_block("## Running it locally"))
    assert lines[0].split("#")[0].strip() == "votectl up"
    lines[0] = "votectl up &"  # the README's other terminal
    assert lines[-1] == "votectl results dark-s1"
    # a person types it a moment later; here: once the vote has passed the queues
    lines.insert(-1, "until votectl results dark-s1 >/dev/null 2>&1; do sleep 0.1; done")
    code, out, err = run_in_bash(lines, tmp_path, timeout=120)
    # `votectl results` exits 1 for a title without votes: 0 means the vote was stored
    assert code == 0, err[-3000:]
    assert '"accepted":1' in out.split("---\n")[1]
    assert "story" in out and "Traceback" not in err
    assert (tmp_path / ".votectl" / "local" / "votes-table.db").exists()  # the default data dir
