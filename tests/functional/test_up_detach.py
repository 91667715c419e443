"""`votectl up --detach` returns once the stack serves and names its URL and data dir;
`votectl down` stops it without losing an acknowledged vote, and exits 0 when nothing runs.
`votectl up &` in an interactive shell draws no status line over that shell."""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.functional.conftest import poll, votectl
from votectl.local.status import alive


def _votes_until_refused(url: str, accepted: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            user = f"u{n}"
            n += 1
            try:
                response = client.post(
                    "/votes",
                    json={"user_id": user, "title_id": "t1", "aspect": "story", "score": 3},
                )
            except httpx.TransportError:
                return  # the gateway has closed: down is under way
            if response.status_code == 202:
                accepted.append(user)


def test_detach_then_down_loses_no_acknowledged_vote(tmp_path: Path) -> None:
    data = tmp_path / "local"
    started = votectl("up", "--detach", "--port", "0", "--data-dir", str(data))
    assert started.returncode == 0, started.stderr
    info = json.loads((data / "up.json").read_text())
    assert started.stdout.strip() == f"{info['url']}/votes"  # the URL, alone, on stdout
    assert str(data) in started.stderr and "votectl down" in started.stderr
    assert alive(info["pid"])

    again = votectl("up", "--detach", "--port", "0", "--data-dir", str(data))
    assert again.returncode == 1
    said = f"error: another `votectl up` ({info['pid']}, {info['url']}) is using {data}"
    assert again.stderr.splitlines() == [  # said as itself, not "exited with code 1 while..."
        said,
        f"hint: `votectl down --data-dir {data}` stops it (or Ctrl-C where it runs);"
        " or pass another --data-dir",
    ]

    accepted: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_votes_until_refused, args=(info["url"], accepted, stop))
    sender.start()
    try:
        poll(lambda: len(accepted) >= 300, timeout=60)
        down = votectl("down", "--data-dir", str(data))
    finally:
        stop.set()
        sender.join(30)
    assert down.returncode == 0, down.stderr
    assert f"stopped `votectl up` (pid {info['pid']}) on {data}" in down.stderr
    assert not (data / "up.json").exists()
    assert not any(alive(pid) for pid in [info["pid"], *info["processes"].values()])

    # what was acknowledged is in the files: a second up stores every one of them
    assert votectl("up", "--detach", "--port", "0", "--data-dir", str(data)).returncode == 0
    try:
        poll(lambda: _stored(data) == len(set(accepted)), timeout=60, interval=0.3)
    finally:
        assert votectl("down", "--data-dir", str(data)).returncode == 0

    nothing = votectl("down", "--data-dir", str(data))
    assert nothing.returncode == 0
    assert f"nothing runs on {data}" in nothing.stderr


def _stored(data: Path) -> int:
    done = votectl("table", "count", "--data-dir", str(data), "--json")
    return int(json.loads(done.stdout)["count"])


def test_down_where_nothing_ever_ran(tmp_path: Path) -> None:
    done = votectl("down", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 0
    assert "nothing runs on" in done.stderr


def test_detach_names_why_up_could_not_start(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        done = votectl("up", "--detach", "--port", str(port), "--data-dir", str(tmp_path))
    finally:
        taken.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "pick another --port" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)")
@pytest.mark.parametrize("job", ["&", ""])
def test_status_line_only_in_the_foreground(tmp_path: Path, job: str) -> None:
    """In an interactive shell on a terminal, `votectl up &` draws nothing over the shell; the
    same command in the foreground draws its live line (the control)."""
    data = tmp_path / "local"
    session = f"votectl-{uuid.uuid4().hex[:8]}"
    up = f"{shlex.quote(sys.executable)} -m votectl up --port 0 --data-dir {shlex.quote(str(data))}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "30", "bash --norc -i"],
        check=True,
    )
    try:
        subprocess.run(["tmux", "send-keys", "-t", session, f"{up} {job}", "Enter"], check=True)
        poll(lambda: (data / "up-status.json").exists(), timeout=60)
        first = json.loads((data / "up-status.json").read_text())["at"]

        def pane() -> str:
            capture = ["tmux", "capture-pane", "-p", "-t", session]
            return subprocess.run(capture, capture_output=True, text=True).stdout

        if not job:
            poll(lambda: "accepted 0 (0/s)  queues:" in pane(), timeout=30)
            return
        # three more status ticks: a live line would have been drawn by now
        poll(lambda: json.loads((data / "up-status.json").read_text())["at"] > first + 2.5, 30)
        assert "queues:" not in pane(), pane()
    finally:
        votectl("down", "--data-dir", str(data))
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
