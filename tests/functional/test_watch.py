"""`votectl watch` against a real `votectl up`: frames printed without a terminal, and a real
terminal (tmux) where q leaves with exit 0."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.functional.conftest import ROOT, Up, poll, votectl

VOTES = [{"user_id": f"u{i}", "title_id": "t1", "aspect": "story", "score": 3} for i in range(20)]


def test_watch_prints_frames_with_the_pipelines_numbers(up_factory: Callable[..., Up]) -> None:
    up = up_factory()
    with up.client() as client:
        assert client.post("/votes", json={"votes": VOTES}).status_code == 202
    up.drained()
    poll(lambda: (up.data_dir / "up-status.json").exists())
    done = votectl("watch", "--data-dir", str(up.data_dir), "--frames", "2", "--interval", "0.3")
    assert done.returncode == 0, done.stderr
    frames = done.stdout.split("votectl watch: local")
    assert len(frames) == 3  # two frames, each headed by the title
    last = frames[-1]
    for name in ("votes", "votes-dlq", "ready", "ready-dlq"):
        assert name in last
    assert "table: 20 votes" in last and "accepted: 20 votes" in last


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)")
@pytest.mark.parametrize(("key", "code"), [("q", "0"), ("C-c", "130")])
def test_watch_in_a_terminal_leaves_on_q_or_ctrl_c(
    up_factory: Callable[..., Up], tmp_path: Path, key: str, code: str
) -> None:
    up = up_factory()
    session = f"votectl-watch-{time.monotonic_ns()}"
    code_file = tmp_path / "code"
    command = (
        f"cd {ROOT} && {sys.executable} -m votectl watch --data-dir {up.data_dir} "
        f"--interval 0.3; echo $? > {code_file}; stty -a > {tmp_path / 'stty.tmp'}; "
        f"mv {tmp_path / 'stty.tmp'} {tmp_path / 'stty'}"  # whole when it appears
    )
    tmux = ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", command]
    subprocess.run(tmux, check=True)
    try:

        def screen() -> str:
            pane = ["tmux", "capture-pane", "-p", "-t", session]
            return subprocess.run(pane, capture_output=True, text=True).stdout

        poll(lambda: "ready-dlq" in screen() and "q or Ctrl-C leaves" in screen(), timeout=30)
        subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
        poll(lambda: (tmp_path / "stty").exists(), timeout=15)
        assert code_file.read_text().strip() == code
        assert " icanon " in (tmp_path / "stty").read_text()  # the terminal was given back
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
