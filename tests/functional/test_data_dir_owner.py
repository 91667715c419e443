"""One owner per data dir: the OS lock on the data dir decides, not a file anyone can delete."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.functional.conftest import Up, votectl


def test_deleting_files_does_not_let_a_second_up_in(up: Up) -> None:
    for name in ("up.lock", "up.json", "up-status.json"):  # what a tidy-minded user might delete
        (up.data_dir / name).unlink(missing_ok=True)
    second = votectl("up", "--port", "0", "--data-dir", str(up.data_dir), "--quiet")
    assert second.returncode == 1
    assert "another `votectl up`" in second.stderr and "Traceback" not in second.stderr
    assert httpx.get(f"{up.url}/health", timeout=10).status_code == 200  # the first still serves


def test_a_refused_up_removes_nothing_of_the_owners(up: Up) -> None:
    before = (up.data_dir / "up.json").read_text()
    assert votectl("up", "--port", "0", "--data-dir", str(up.data_dir), "--quiet").returncode == 1
    assert (up.data_dir / "up.json").read_text() == before
    status = up.json("status")
    assert status["running"] is True and status["url"] == up.url


def test_the_lock_is_on_the_data_dir_and_released_when_up_stops(up: Up, tmp_path: Path) -> None:
    from votectl.local.layout import Layout

    layout = Layout.of(up.data_dir)
    assert layout.is_running() and layout.lock() is None
    up.proc.terminate()
    assert up.proc.wait(30) == 0
    assert not layout.is_running()
    assert not (up.data_dir / "up.json").exists()
