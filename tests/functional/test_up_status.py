"""`votectl up` without a terminal: whole status lines, a running accepted total that survives
a gateway restart, and a line naming a child that died and how."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.functional.conftest import poll
from votectl.local.supervisor import _Tally

VOTE = {"user_id": "u1", "title_id": "t1", "aspect": "story", "score": 4}


def test_the_tally_keeps_a_restarted_gateways_count() -> None:
    tally = _Tally()
    assert tally.total([5, 3]) == 8
    assert tally.total([7, 3]) == 10
    assert tally.total([0, 4]) == 11  # gateway 0 restarted after counting 7
    assert tally.total([2, 4]) == 13


def test_status_lines_survive_a_gateway_restart(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "votectl", "up", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        up = poll(
            lambda: (
                (tmp_path / "up.json").exists() and json.loads((tmp_path / "up.json").read_text())
            )
        )
        with httpx.Client(base_url=up["url"]) as client:
            for n in range(5):
                assert client.post("/votes", json={**VOTE, "user_id": f"u{n}"}).status_code == 202
        poll(lambda: any(line.startswith("accepted 5 ") for line in lines), timeout=40)
        os.kill(up["processes"]["gateway-0"], signal.SIGKILL)
        notice = poll(lambda: next((line for line in lines if "gateway-0" in line), None), 20)
        assert f"gateway-0 (pid {up['processes']['gateway-0']}) killed by SIGKILL" in notice
        assert "; restarted" in notice or "; restarting in " in notice  # young: after a pause
        after = lines.index(notice)
        later = poll(lambda: [line for line in lines[after:] if line.startswith("accepted ")], 40)
        assert later[0].startswith("accepted 5 "), later[0]  # not back to 0
        assert "restarts 1" in later[0]
        status = [line for line in lines if "queues:" in line]
        assert all(line.startswith("accepted ") and "stored" in line for line in status)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        reader.join(10)
