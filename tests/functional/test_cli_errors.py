"""Bad input at the CLI: one line naming the problem, a hint, a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.conftest import votectl
from votectl.local.db import connect


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("queue", "stats", "--data-dir", "{tmp}/missing"), 1, "no local pipeline data"),
        (("table", "count", "--data-dir", "{tmp}/missing"), 1, "no local pipeline data"),
        (("up", "--chaos", "writer=2", "--data-dir", "{tmp}/d"), 2, "bad --chaos"),
        (("up", "--chaos", "nobody=0.1", "--data-dir", "{tmp}/d"), 2, "bad --chaos"),
        (("queue", "stats", "--stage", "nowhere"), 2, "unknown stage"),
        (("redrive", "--cancel", "--data-dir", "{tmp}/d"), 2, "nothing to cancel"),
        (("queue", "stats", "--data-dir", "{tmp}/old"), 1, "earlier votectl"),
    ],
)
def test_errors_are_one_line_with_a_hint(
    tmp_path: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "votes-table.db").touch()
    (tmp_path / "old").mkdir()  # a data dir written before queues became inbox + state files
    (tmp_path / "old" / "votes-table.db").touch()
    connect(tmp_path / "old" / "votes-queue.db", "CREATE TABLE bodies (id INTEGER);").close()
    result = votectl(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_broken_config_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "votectl.toml").write_text("[stages.prod\nregion = 1")
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "votectl", "queue", "stats", "--stage", "prod"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "votectl.toml" in result.stderr and "Traceback" not in result.stderr


def test_up_on_a_data_dir_with_an_earlier_state_file_stops_with_a_hint(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    connect(data / "votes-queue-state.db", "CREATE TABLE messages (id INTEGER);").close()
    result = votectl("up", "--port", "0", "--data-dir", str(data))
    assert result.returncode == 1
    assert "earlier votectl" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
