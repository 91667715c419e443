"""`votectl status` on the local stage: what runs (URL, processes, restarts) and what it holds,
with a pinned --json schema; not running is an answer (exit 0), not an error."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.functional.conftest import Up, poll, votectl

KEYS = {"stage", "data_dir", "running", "url", "pid", "children", "restarts", "queues", "table"}
QUEUES = ["votes", "votes-dlq", "ready", "ready-dlq"]


def status(data_dir: Path) -> dict[str, Any]:
    result = votectl("status", "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == KEYS
    return dict(report)


def test_nothing_ever_ran(tmp_path: Path) -> None:
    report = status(tmp_path / "none")
    assert report == {
        "stage": "local",
        "data_dir": str(tmp_path / "none"),
        "running": False,
        "url": None,
        "pid": None,
        "children": [],
        "restarts": None,
        "queues": [],
        "table": None,
    }
    human = votectl("status", "--data-dir", str(tmp_path / "none"))
    assert human.returncode == 0 and "not running" in human.stdout


def test_a_running_up_its_processes_queues_and_table(up: Up) -> None:
    with up.client() as client:
        vote = {"user_id": "ana", "title_id": "dark-s1", "aspect": "story", "score": 5}
        assert client.post("/votes", json=vote).status_code == 202
    up.drained()
    report = status(up.data_dir)
    assert (report["running"], report["url"], report["pid"]) == (True, up.url, up.proc.pid)
    children = {c["name"]: c for c in report["children"]}
    assert set(children) == {"gateway-0", "processor", "writer"}
    assert all(c["alive"] and c["pid"] > 0 for c in children.values())
    assert report["restarts"] == 0
    assert [q["name"] for q in report["queues"]] == QUEUES
    assert report["table"]["count"] == 1
    human = votectl("status", "--data-dir", str(up.data_dir), env={"COLUMNS": "200"}).stdout
    assert f"running at {up.url}/votes" in human and "messages, not votes" in human


def test_a_restarted_child_is_counted(up: Up) -> None:
    writer = {c["name"]: c["pid"] for c in status(up.data_dir)["children"]}["writer"]
    os.kill(writer, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        report = status(up.data_dir)
        return report if report["restarts"] == 1 else None

    report = poll(restarted)
    now = {c["name"]: c for c in report["children"]}["writer"]
    assert now["pid"] != writer and now["alive"]


def test_after_up_stops_it_says_not_running_and_keeps_the_data(up: Up) -> None:
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(30) == 0
    report = status(up.data_dir)
    assert report["running"] is False and report["children"] == []
    assert [q["name"] for q in report["queues"]] == QUEUES and report["table"]["count"] == 0


def test_a_dead_up_is_not_running(up: Up) -> None:
    os.kill(up.proc.pid, signal.SIGKILL)  # its up.json stays; its pid is a zombie until reaped
    poll(lambda: not status(up.data_dir)["running"])
