"""SQS semantics of the SQLite queue: visibility, receive counts, DLQ, delay, redrive; and its
two files: senders never wait for consumers, deleted bodies do not pile up."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from votectl.local.db import connect
from votectl.local.queue import MismatchedFiles, SqliteQueue, StaleDataDir


@pytest.fixture
def queue(tmp_path: Path) -> SqliteQueue:
    return SqliteQueue(tmp_path / "q.db", "votes", visibility_timeout=0.2, max_receive_count=2)


def counts(queue: SqliteQueue) -> dict[str, tuple[int, int, int]]:
    return {s.name: (s.visible, s.in_flight, s.delayed) for s in queue.stats()}


def test_send_receive_delete(queue: SqliteQueue) -> None:
    queue.send([b"a", b"b", b"c"])
    got = queue.receive(10)
    assert sorted(m.body for m in got) == ["a", "b", "c"]
    assert all(m.receive_count == 1 for m in got)
    assert counts(queue)["votes"] == (0, 3, 0)
    assert queue.delete([m.receipt_handle for m in got]) == 3
    assert counts(queue)["votes"] == (0, 0, 0)


def test_receive_takes_at_most_max_messages_oldest_first(queue: SqliteQueue) -> None:
    queue.send([str(i).encode() for i in range(25)])
    assert [m.body for m in queue.receive(10)] == [str(i) for i in range(10)]
    assert len(queue.receive(100)) == 15


def test_an_unacknowledged_message_returns_after_the_visibility_timeout(queue: SqliteQueue) -> None:
    queue.send([b"x"])
    [first] = queue.receive(1)
    assert queue.receive(1) == []  # hidden
    [again] = queue.receive(1, wait_seconds=5)  # long poll until it is visible again
    assert again.body == "x" and again.receive_count == 2
    assert again.first_received_at == first.first_received_at


def test_a_stale_receipt_deletes_nothing(queue: SqliteQueue) -> None:
    queue.send([b"x"])
    [first] = queue.receive(1)
    [second] = queue.receive(1, wait_seconds=5)
    assert queue.delete([first.receipt_handle]) == 0
    assert queue.delete([second.receipt_handle]) == 1


def test_after_max_receives_the_message_moves_to_the_dlq_and_redrive_brings_it_back(
    queue: SqliteQueue,
) -> None:
    queue.send([b"poison"])
    for expected in (1, 2):
        [m] = queue.receive(1, wait_seconds=5)
        assert m.receive_count == expected
    assert queue.receive(1, wait_seconds=1) == []  # third receive: moved, not delivered
    assert counts(queue)["votes-dlq"] == (1, 0, 0)
    assert queue.redrive() == 1
    assert counts(queue) == {"votes": (1, 0, 0), "votes-dlq": (0, 0, 0)}
    [m] = queue.receive(1)
    assert (m.body, m.receive_count) == ("poison", 1)


def test_delayed_messages_are_counted_and_then_delivered(queue: SqliteQueue) -> None:
    queue.send([b"later"], delay_seconds=0.3)
    assert counts(queue)["votes"] == (0, 0, 1)
    assert queue.receive(1) == []
    [m] = queue.receive(1, wait_seconds=5)
    assert m.body == "later"


def test_change_visibility_to_zero_releases_a_message(queue: SqliteQueue) -> None:
    queue.send([b"x"])
    [m] = queue.receive(1, visibility_timeout=60)
    queue.change_visibility([m.receipt_handle], 0)
    assert [n.body for n in queue.receive(1)] == ["x"]


def test_sqs_record_has_the_lambda_event_shape(queue: SqliteQueue) -> None:
    queue.send([b"hello"])
    [m] = queue.receive(1)
    record = m.sqs_record(queue.arn, "local")
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs"


def _consume(path: str, out: multiprocessing.Queue[list[str]]) -> None:
    q = SqliteQueue(path, "votes", visibility_timeout=60)
    seen: list[str] = []
    while batch := q.receive(7, wait_seconds=0.5):
        seen += [m.body for m in batch]
        q.delete([m.receipt_handle for m in batch])
    out.put(seen)


def test_concurrent_consumers_in_processes_never_share_a_message(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    SqliteQueue(path, "votes").send([str(i).encode() for i in range(500)])
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [ctx.Process(target=_consume, args=(str(path), out)) for _ in range(3)]
    for p in procs:
        p.start()
    seen = [body for _ in procs for body in out.get(timeout=60)]
    for p in procs:
        p.join(10)
    assert sorted(seen, key=int) == [str(i) for i in range(500)]


def _inbox_rows(path: Path) -> int:
    return int(connect(path).execute("SELECT count(*) FROM inbox").fetchone()[0])


def test_a_send_never_waits_for_a_consumer_holding_the_state_lock(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    consumer = SqliteQueue(path, "votes")
    consumer.send([b"first"])
    assert len(consumer.receive(1)) == 1
    holder = connect(consumer.state_path)
    holder.execute("BEGIN IMMEDIATE")  # a consumer mid-receive, in another process
    SqliteQueue(path, "votes", lock_wait=0).send([b"second"])  # Locked if they shared a lock
    holder.execute("COMMIT")
    assert counts(consumer)["votes"] == (1, 1, 0)


def test_deleted_messages_leave_no_body_in_the_inbox(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    queue = SqliteQueue(path, "votes")
    queue.send([str(i).encode() for i in range(100)])
    got = queue.receive(100)
    queue.delete([m.receipt_handle for m in got])
    queue.close()
    assert _inbox_rows(path) == 0


def test_the_garbage_of_a_consumer_that_died_is_reclaimed_by_the_next_send(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    first = SqliteQueue(path, "votes", visibility_timeout=60)
    first.send([b"x", b"y", b"still in flight"])
    got = first.receive(3)
    first.delete([m.receipt_handle for m in got if m.body != "still in flight"])
    assert _inbox_rows(path) == 3  # consumers never delete inbox rows; then it "dies"
    SqliteQueue(path, "votes", lock_wait=0).send([b"next"])  # a sender, in another process
    assert _inbox_rows(path) == 2  # the in-flight message keeps its body, and so does "next"


def test_a_data_dir_from_an_earlier_votectl_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "votes-queue.db"
    connect(path, "CREATE TABLE bodies (id INTEGER PRIMARY KEY, body TEXT NOT NULL);").close()
    with pytest.raises(StaleDataDir, match="earlier votectl") as raised:
        SqliteQueue(path, "votes")
    assert "data dir" in raised.value.hint


def test_a_receipt_is_never_issued_twice_even_after_the_dlq_and_redrive(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes", visibility_timeout=0.05, max_receive_count=1)
    queue.send([b"x"])
    [old] = queue.receive(1)
    assert queue.receive(1, wait_seconds=1) == []  # the next receive moved it to the DLQ
    assert queue.redrive() == 1
    [current] = queue.receive(1, visibility_timeout=60)
    assert current.receipt_handle != old.receipt_handle
    queue.change_visibility([old.receipt_handle], 0)  # stale: must not release the delivery
    assert queue.delete([old.receipt_handle]) == 0  # stale: must not delete it
    assert counts(queue)["votes"] == (0, 1, 0)
    assert queue.delete([current.receipt_handle]) == 1


def test_a_handle_this_queue_never_issued_deletes_nothing(tmp_path: Path) -> None:
    votes = SqliteQueue(tmp_path / "votes.db", "votes")
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    votes.send([b"v1"])
    ready.send([b"r1"])
    votes.send([b"later"], delay_seconds=60)
    [received] = ready.receive(1)
    assert votes.delete([received.receipt_handle, "2.0"]) == 0  # another queue's; a delayed one
    votes.close()
    assert _inbox_rows(tmp_path / "votes.db") == 2  # both bodies kept
    assert [m.body for m in SqliteQueue(tmp_path / "votes.db", "votes").receive(10)] == ["v1"]


def test_a_body_with_a_nul_character_is_refused(queue: SqliteQueue) -> None:
    with pytest.raises(ValueError, match="NUL"):
        queue.send([b"a\x00b"])
    assert counts(queue)["votes"] == (0, 0, 0)


def test_a_recreated_inbox_is_refused_not_silently_skipped(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"a", b"b"])
    assert len(queue.receive(10)) == 2
    queue.close()
    for path in tmp_path.glob("q.db*"):  # the inbox only: the state file stays
        path.unlink()
    fresh = SqliteQueue(tmp_path / "q.db", "votes")
    fresh.send([b"new"])  # senders never open the state
    with pytest.raises(MismatchedFiles, match="q.db does not belong with q-state.db"):
        fresh.receive(10)
    with pytest.raises(MismatchedFiles):
        fresh.stats()


def test_an_inbox_restored_from_an_older_copy_is_refused(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"a"])
    queue.close()
    old = (tmp_path / "q.db").read_bytes()
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"b", b"c"])
    assert len(queue.receive(10)) == 3
    queue.close()
    for path in tmp_path.glob("q.db-*"):
        path.unlink()
    (tmp_path / "q.db").write_bytes(old)
    with pytest.raises(MismatchedFiles, match="adopted up to 3"):
        SqliteQueue(tmp_path / "q.db", "votes").stats()


def test_a_lost_state_file_redelivers_rather_than_loses(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"a", b"b"])
    queue.close()
    for path in tmp_path.glob("q-state.db*"):
        path.unlink()
    assert sorted(m.body for m in SqliteQueue(tmp_path / "q.db", "votes").receive(10)) == ["a", "b"]
