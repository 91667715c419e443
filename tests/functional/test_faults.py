"""Operator faults (issue 9, items 6 and 7): SIGTERM after a child was killed, a full disk."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.functional.conftest import Up, poll, votectl

JSON = {"content-type": "application/json"}


def vote(user: str) -> dict[str, object]:
    return {"user_id": user, "title_id": "t", "aspect": "story", "score": 3}


def children(up: Up) -> dict[str, int]:
    return dict(json.loads((up.data_dir / "up.json").read_text())["processes"])


@contextlib.contextmanager
def trickle(up: Up) -> Iterator[list[int]]:
    """Votes sent one by one in a thread (partial batches: the pollers sleep between them)."""
    statuses: list[int] = []
    done = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=up.url, timeout=10) as client:
            n = 0
            while not done.is_set():
                n += 1
                try:
                    statuses.append(client.post("/votes", json=vote(f"t{n}")).status_code)
                except httpx.HTTPError:
                    statuses.append(0)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield statuses
    finally:
        done.set()
        thread.join()


def kill_child(up: Up, label: str) -> None:
    pid = children(up)[label]
    os.kill(pid, signal.SIGKILL)
    poll(lambda: children(up)[label] != pid, timeout=30)  # restarted, up.json rewritten


@pytest.mark.parametrize("round_", range(3))
def test_sigterm_after_a_child_was_killed_stops_promptly(
    up_factory: Callable[..., Up], round_: int
) -> None:
    up = up_factory()
    with trickle(up) as statuses:
        poll(lambda: len(statuses) > 20)
        kill_child(up, "processor")
        kill_child(up, "writer")
        poll(lambda: len(statuses) > 40)
    up.proc.send_signal(signal.SIGTERM)
    try:
        up.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("votectl up still running 30 s after SIGTERM")
    assert up.proc.returncode == 0
    assert not (up.data_dir / "up.json").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (root only), unmounted after."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for block in (65536, 4096, 1):  # to the last byte
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_neither_stops_the_pipeline_nor_loses_votes(
    up_factory: Callable[..., Up], small_disk: Path
) -> None:
    up = up_factory("--visibility-timeout", "2", data_dir=small_disk / "local")
    with up.client() as client:
        assert client.post("/votes", json=vote("before"), headers=JSON).status_code == 202
        filler = fill(small_disk)
        os.kill(children(up)["processor"], signal.SIGKILL)  # its restart rewrites up.json
        answers = [client.post("/votes", json=vote(f"full{i}")).status_code for i in range(50)]
        assert up.proc.poll() is None  # the supervisor lives on
        assert set(answers) <= {202, 503}  # refused with a retry, never a connection error
        filler.unlink()
        poll(lambda: client.post("/votes", json=vote("after")).status_code == 202)
    acknowledged = {"before", "after"} | {f"full{i}" for i, s in enumerate(answers) if s == 202}
    up.drained(timeout=90)
    assert up.stored() == len(acknowledged)
    up.proc.send_signal(signal.SIGTERM)
    _, err = up.proc.communicate(timeout=30)
    assert up.proc.returncode == 0
    assert "Traceback" not in err  # retried with a warning, no crash loop


def test_up_json_that_cannot_be_rewritten_does_not_stop_the_supervisor(
    up_factory: Callable[..., Up],
) -> None:
    """As ENOSPC would: the rewrite after a restart fails; it is retried until it works."""
    up = up_factory()
    up_file = up.data_dir / "up.json"
    before = children(up)
    up_file.unlink()
    up_file.mkdir()  # in the way of the rewrite
    os.kill(before["processor"], signal.SIGKILL)
    supervisor = psutil.Process(up.proc.pid)

    def restarted() -> bool:
        alive = set(before.values())
        for child in supervisor.children():
            with contextlib.suppress(psutil.Error):  # the killed one, a zombie until reaped
                if "spawn_main" in " ".join(child.cmdline()) and child.pid not in alive:
                    return True
        return False

    poll(restarted)  # the processor is back, and up.json could not say so
    with up.client() as client:
        assert client.get("/health").status_code == 200
    assert up.proc.poll() is None
    up_file.rmdir()
    poll(lambda: up_file.is_file() and children(up)["processor"] != before["processor"])
    assert up.proc.poll() is None
    up.proc.send_signal(signal.SIGTERM)
    _, err = up.proc.communicate(timeout=30)
    assert up.proc.returncode == 0
    assert "cannot write" in err


def test_up_refuses_a_data_dir_whose_inbox_was_recreated(up_factory: Callable[..., Up]) -> None:
    up = up_factory()
    with up.client() as client:
        batch = {"votes": [vote(f"r{i}") for i in range(100)]}
        assert client.post("/votes", json=batch).status_code == 202
    up.drained()
    up.proc.send_signal(signal.SIGTERM)
    up.proc.wait(timeout=30)
    for path in up.data_dir.glob("votes-queue.db*"):
        path.unlink()
    result = votectl("up", "--port", "0", "--quiet", "--data-dir", str(up.data_dir))
    assert result.returncode == 1
    assert "votes-queue.db does not belong with votes-queue-state.db" in result.stderr
    assert "Traceback" not in result.stderr


def stopped_with_votes(up: Up, n: int = 2000) -> None:
    with up.client() as client:
        for start in range(0, n, 500):
            batch = {"votes": [vote(f"c{i}") for i in range(start, start + 500)]}
            assert client.post("/votes", json=batch).status_code == 202
    up.drained()
    up.proc.send_signal(signal.SIGTERM)
    up.proc.wait(timeout=30)


def test_a_damaged_table_is_named_by_ops_and_stops_up(up_factory: Callable[..., Up]) -> None:
    up = up_factory()
    stopped_with_votes(up)
    table = up.data_dir / "votes-table.db"
    with open(table, "r+b") as f:  # garbage over the pages after the first two
        f.seek(8192)
        f.write(os.urandom(table.stat().st_size - 8192))
    count = votectl("table", "count", "--data-dir", str(up.data_dir))
    assert count.returncode == 1
    assert f"{table}:" in count.stderr and "unexpected" not in count.stderr
    started = votectl("up", "--port", "0", "--quiet", "--data-dir", str(up.data_dir))
    assert started.returncode == 1
    assert f"{table} is damaged" in started.stderr and "Traceback" not in started.stderr


@pytest.fixture
def read_only_dir(small_disk: Path) -> Iterator[Path]:
    yield small_disk
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=False)


def test_ops_read_a_read_only_data_dir(up_factory: Callable[..., Up], read_only_dir: Path) -> None:
    up = up_factory(data_dir=read_only_dir / "local")
    stopped_with_votes(up, 500)
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_dir)], check=True)
    assert up.stored() == 500
    assert {q["name"]: q["visible"] for q in up.json("queue", "stats")["queues"]}["votes"] == 0
    assert up.json("results", "t")["aspects"]["story"]["votes"] == 500
    redrive = votectl("redrive", "--data-dir", str(up.data_dir))
    assert redrive.returncode == 1 and "read-only" in redrive.stderr


def test_a_table_damaged_while_running_stops_up_instead_of_answering_202(
    up_factory: Callable[..., Up],
) -> None:
    up = up_factory()
    with up.client() as client:
        for n in range(4):
            batch = {"votes": [vote(f"d{n}-{i}") for i in range(500)]}
            assert client.post("/votes", json=batch).status_code == 202
        up.drained()
        table = up.data_dir / "votes-table.db"
        con = sqlite3.connect(table)  # the pages into the file, so that readers meet the damage
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        with open(table, "r+b") as f:
            f.seek(8192)
            f.write(os.urandom(table.stat().st_size - 8192))
        os.kill(children(up)["writer"], signal.SIGKILL)  # a fresh writer reads the pages
        client.post("/votes", json={"votes": [vote(f"e{i}") for i in range(500)]})
    _, err = up.proc.communicate(timeout=60)
    assert up.proc.returncode == 1
    assert f"{table} is damaged" in err and "Traceback" not in err


def test_children_exit_when_the_supervisor_is_killed(up_factory: Callable[..., Up]) -> None:
    """kill -9 of the supervisor alone: its gateway and pollers do not serve on as orphans."""
    up = up_factory()
    info = json.loads((up.data_dir / "up.json").read_text())
    children = list(info["processes"].values())
    os.kill(info["pid"], signal.SIGKILL)

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie is gone too: it waits only for a reaper
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    poll(lambda: all(gone(pid) for pid in children), timeout=30)
