"""Receipt stamps never go backwards within a data dir: a wall clock stepping back, across a
restart and across gateway processes, cannot make an older vote win (local/stamps.py)."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import pytest

from lambdas import processor, receiver, writer
from lambdas.contract import decode_envelope
from tests.functional.conftest import http_event, sqs_event
from votectl.local.queue import SqliteQueue
from votectl.local.stamps import LEASE_US, ReceiptClock
from votectl.local.table import SqliteVoteTable

HOUR_US = 3600 * 1_000_000
T0 = (int(time.time()) - 7200) * 1_000_000  # two hours ago, in microseconds


class Wall:
    """An injected wall clock (microseconds since the epoch) that a test can step."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        self.now += 1_000  # each read is a millisecond later, unless stepped
        return self.now


def vote(queue: SqliteQueue, clock: ReceiptClock, score: int) -> None:
    body = json.dumps({"user_id": "ana", "title_id": "t1", "aspect": "story", "score": score})
    handle = receiver.make_handler(queue, clock)
    assert handle(http_event("POST", "/votes", body), None)["statusCode"] == 202


def drain(votes: SqliteQueue, ready: SqliteQueue, table: SqliteVoteTable) -> None:
    """The queued votes through the real processor and writer handlers into the table."""
    event = sqs_event([m.body for m in votes.receive(100)])
    assert processor.make_handler(ready)(event, None) == {"batchItemFailures": []}
    forwarded = sqs_event([m.body for m in ready.receive(100)])
    assert writer.make_handler(table)(forwarded, None) == {"batchItemFailures": []}


def test_a_step_back_of_an_hour_across_a_restart_stores_the_later_vote(tmp_path: Path) -> None:
    """The wall clock an hour fast for the first vote, true for the second (issue 15)."""
    votes = SqliteQueue(tmp_path / "votes.db", "votes")
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    table = SqliteVoteTable(tmp_path / "table.db")
    wall = Wall(T0 + HOUR_US)  # a clock an hour fast ...
    clock = ReceiptClock(tmp_path / "receipt-clock", wall)
    vote(votes, clock, 5)
    clock.close()  # ... the gateway stops; it restarts on the true clock
    wall.now = T0
    vote(votes, ReceiptClock(tmp_path / "receipt-clock", wall), 1)
    drain(votes, ready, table)
    stored = table.get("ana", "t1", "story")
    assert stored is not None and stored[0] == 1  # the later vote, not the hour-fast one


@pytest.mark.parametrize("processes", [2, 1], ids=["two-shared", "one-unlocked"])
def test_stamps_only_grow_through_random_steps_restarts_and_processes(
    tmp_path: Path, processes: int
) -> None:
    """Two gateway processes share the file under flock; a lone one (``--workers 1``, the
    default on two cores) takes no lock, and its restarts still continue above the mark."""
    rng = random.Random(15)
    path = tmp_path / "receipt-clock"
    wall = Wall(T0)
    shared = processes > 1
    clocks = [ReceiptClock(path, wall, shared=shared) for _ in range(processes)]
    last = 0
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.02:
            wall.now += rng.choice([-HOUR_US, -5_000_000, -2_000, 3_000_000])  # a step
        elif roll < 0.03:
            n = rng.randrange(processes)
            clocks[n].close()
            clocks[n] = ReceiptClock(path, wall, shared=shared)  # a restart
        stamp = rng.choice(clocks).now_us()
        assert stamp > last
        last = stamp


def test_the_mark_is_written_once_per_lease_not_once_per_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    persist = ReceiptClock._persist

    def counted(self: ReceiptClock) -> None:
        synced.append(1)
        persist(self)

    monkeypatch.setattr(ReceiptClock, "_persist", counted)
    wall = Wall(T0)
    clock = ReceiptClock(tmp_path / "receipt-clock", wall)
    for _ in range(10_000):  # 10 s of the wall clock, 1 ms apart
        clock.now_us()
    assert 0 < len(synced) <= 10_000 * 1_000 // LEASE_US + 1


def test_a_step_back_is_logged_once_with_its_size(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wall = Wall(T0)
    clock = ReceiptClock(tmp_path / "receipt-clock", wall)
    before = clock.now_us()
    wall.now -= HOUR_US
    with caplog.at_level(logging.WARNING, "votectl.stamps"):
        after = [clock.now_us() for _ in range(3)]
    assert after[0] > before and after == sorted(after)
    [record] = caplog.records
    assert "stepped 3600." in record.getMessage()


def test_a_restart_behind_the_mark_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wall = Wall(T0 + HOUR_US)
    ReceiptClock(tmp_path / "receipt-clock", wall).now_us()
    wall.now = T0
    with caplog.at_level(logging.WARNING, "votectl.stamps"):
        ReceiptClock(tmp_path / "receipt-clock", wall)
    assert "behind this data dir's receipt stamps" in caplog.text


def test_the_receiver_stamps_with_its_clock_port(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "votes.db", "votes")
    clock = ReceiptClock(tmp_path / "receipt-clock", Wall(T0))
    vote(queue, clock, 3)
    [message] = queue.receive(1)
    [stamped] = decode_envelope(message.body)[0]
    assert stamped.voted_at is not None
    assert abs(stamped.voted_at.timestamp() * 1e6 - T0) < 1e6


def test_a_stamp_ahead_of_the_wall_clock_is_not_dropped_downstream(tmp_path: Path) -> None:
    """After a step back the stamps run ahead of the wall clock (up to the step); the
    processor and writer must store them, not refuse them as votes from the future."""
    votes = SqliteQueue(tmp_path / "votes.db", "votes")
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    table = SqliteVoteTable(tmp_path / "table.db")
    now = int(time.time()) * 1_000_000
    wall = Wall(now + HOUR_US)
    vote(votes, ReceiptClock(tmp_path / "receipt-clock", wall), 2)  # an hour "ahead"
    drain(votes, ready, table)
    stored = table.get("ana", "t1", "story")
    assert stored is not None and stored[0] == 2
