"""Queue timers and the clocks (issue 15): visibility and delay run on the boot clock, so a
wall-clock step of an hour either way changes no message's visibility; a new boot makes the
messages hidden on the last one visible. The wall clock is stepped by injecting it (the
queue reads it through ``time.time``); libfaketime breaks ``time.sleep`` when it leaves the
monotonic clocks alone, and stepping those too would not be a wall-clock step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from votectl.local import queue as queue_module
from votectl.local.queue import SqliteQueue

HOUR = 3600.0


def step_wall_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


@pytest.mark.parametrize("step", [-HOUR, HOUR])
def test_a_message_in_flight_at_a_step_comes_back_after_its_visibility_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: float
) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes", visibility_timeout=1.0)
    queue.send([b"x"])
    [first] = queue.receive(1)
    step_wall_clock(monkeypatch, step)
    assert queue.receive(1) == []  # +1 h: not visible early (a second delivery while in flight)
    assert {s.name: s.in_flight for s in queue.stats()}["votes"] == 1
    [again] = queue.receive(1, wait_seconds=30)  # -1 h: not hidden for an hour
    assert (again.body, again.receive_count) == ("x", 2)
    assert again.first_received_at == first.first_received_at


@pytest.mark.parametrize("step", [-HOUR, HOUR])
def test_a_delayed_message_keeps_its_delay_across_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: float
) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"later"], delay_seconds=1.0)
    step_wall_clock(monkeypatch, step)
    assert queue.receive(1) == []
    assert {s.name: s.delayed for s in queue.stats()}["votes"] == 1
    [m] = queue.receive(1, wait_seconds=30)
    assert m.body == "later"


def test_the_records_timestamps_follow_the_wall_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SentTimestamp and ApproximateFirstReceiveTimestamp are wall-clock times, as on SQS."""
    step_wall_clock(monkeypatch, -HOUR)
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"x"])
    [m] = queue.receive(1)
    record = m.sqs_record(queue.arn, "local")
    attributes = record["attributes"]
    assert isinstance(attributes, dict)
    sent = int(attributes["SentTimestamp"]) / 1000
    assert abs(sent - (time.time())) < 60  # the stepped clock, not the real one


def test_after_a_reboot_the_messages_hidden_before_it_are_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "q.db"
    before = SqliteQueue(path, "votes", visibility_timeout=HOUR)
    before.send([b"in flight"])
    before.send([b"delayed"], delay_seconds=600)
    [m] = before.receive(1)
    assert m.body == "in flight"
    before.close()
    # The reboot: another boot id, and the boot clock starts again near zero.
    monkeypatch.setattr(queue_module, "boot_id", lambda: "another-boot")
    monkeypatch.setattr(queue_module, "boot_ms", lambda: 5_000)
    after = SqliteQueue(path, "votes", visibility_timeout=HOUR)
    got = sorted(m.body for m in after.receive(10))
    assert got == ["delayed", "in flight"]


def test_an_undelayed_message_sent_on_the_last_boot_is_not_delayed_on_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent, not yet adopted, then a reboot whose clock reads less: delivered at once."""
    path = tmp_path / "q.db"
    SqliteQueue(path, "votes").send([b"x"])
    monkeypatch.setattr(queue_module, "boot_id", lambda: "another-boot")
    monkeypatch.setattr(queue_module, "boot_ms", lambda: 1)
    assert [m.body for m in SqliteQueue(path, "votes").receive(1)] == ["x"]


_EARLIER_STATE = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, queue TEXT NOT NULL, sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
    receipt INTEGER NOT NULL DEFAULT 0, first_received_at INTEGER
);
CREATE INDEX messages_ready ON messages (queue, visible_at);
CREATE TABLE adopted (queue TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE inbox_identity (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT);
"""


def test_a_state_from_the_wall_clock_version_is_taken_over(tmp_path: Path) -> None:
    """A data dir written by the version before (wall-clock timers, bodies only in the inbox):
    its in-flight message is delivered at once, its bodies are kept, nothing is lost."""
    from votectl.local.db import connect

    path = tmp_path / "q.db"
    inbox = SqliteQueue(path, "votes")
    inbox.send([b"in flight", b"waiting"])
    (identity,) = connect(path).execute("SELECT id FROM identity").fetchone()
    wall = int(time.time() * 1000)
    state = connect(tmp_path / "q-state.db", _EARLIER_STATE)
    state.execute("INSERT INTO inbox_identity VALUES (1, ?)", (identity,))
    state.execute("INSERT INTO adopted VALUES ('votes', 1)")
    state.execute(  # received a moment ago, hidden for an hour of wall clock
        "INSERT INTO messages VALUES (1, 'votes', ?, ?, 1, 1, ?)", (wall, wall + 3_600_000, wall)
    )
    state.close()
    got = SqliteQueue(path, "votes").receive(10)
    assert sorted((m.body, m.receive_count) for m in got) == [("in flight", 2), ("waiting", 1)]
