"""The storage's bounds (issue 16): the queue files stay a function of the backlog, not of the
messages ever sent; the table's WAL is emptied when the writer idles; a stopped consumer never
keeps a sender from answering."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks._stopped import consumer_files, stop_inside_a_transaction
from lambdas.contract import Vote
from tests.functional.conftest import Up, poll
from tests.functional.test_faults import children
from votectl.local import queue as queue_module
from votectl.local.db import connect
from votectl.local.gateway import SEND_BUDGET_SECONDS
from votectl.local.layout import Layout
from votectl.local.queue import SqliteQueue
from votectl.local.table import SqliteVoteTable

MiB = 1024 * 1024
BODY = b"v" * 400


def _consume(path: str, sent: int, out: multiprocessing.Queue[int]) -> None:
    """A consumer in its own process: receive and delete until ``sent`` messages are done."""
    q = SqliteQueue(path, "votes", visibility_timeout=60)
    done = 0
    while done < sent:
        batch = q.receive(500, wait_seconds=0.5)
        done += q.delete([m.receipt_handle for m in batch])
    out.put(done)


def test_continuous_sends_keep_the_inbox_and_its_wal_bounded(tmp_path: Path) -> None:
    """60 MB of bodies go through while a consumer in another process keeps up (a backlog
    under 5,000 messages, 2 MB): the inbox's file and WAL stay a few MiB, the state's too;
    once drained, no row is left."""
    path = tmp_path / "q.db"
    SqliteQueue.create(path, "votes")
    sender = SqliteQueue(path, "votes", lock_wait=0, checkpoints=False)  # as the gateway opens it
    batches, per_batch = 15_000, 10
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[int] = ctx.Queue()
    consumer = ctx.Process(target=_consume, args=(str(path), batches * per_batch, out))
    consumer.start()
    wal = Path(f"{path}-wal")
    largest = {"wal": 0, "inbox": 0, "state": 0}
    try:
        for n in range(batches):
            sender.send([BODY] * per_batch)
            if n % 500 == 0:  # a steady load: the consumer keeps up, the backlog stays small
                poll(lambda: sender.stats()[0].visible < 5000, timeout=60, interval=0.01)
                largest["wal"] = max(largest["wal"], wal.stat().st_size)
                largest["inbox"] = max(largest["inbox"], path.stat().st_size)
                largest["state"] = max(largest["state"], sender.state_path.stat().st_size)
        assert out.get(timeout=120) == batches * per_batch
    finally:
        consumer.join(10)
        if consumer.is_alive():
            consumer.kill()
    sender.reclaim()  # what the next send's upkeep does
    assert batches * per_batch * len(BODY) >= 60_000_000
    # 32 MiB (the bound for WAL files), for 60 MB sent: truncation waits for readers,
    # so on a loaded machine (the suite's workers on both cores) a WAL can pass 16 MiB before
    # it gets one
    assert largest["wal"] < 8 * queue_module._WAL_BYTES
    assert largest["inbox"] < 32 * MiB  # within the 48 MiB for the data dir
    assert largest["state"] < 16 * MiB
    rows = connect(path).execute("SELECT count(*) FROM inbox").fetchone()[0]
    assert rows == 0
    sender.close()


def test_bodies_kept_past_a_first_receive_let_senders_reclaim_the_rows_around_them(
    tmp_path: Path,
) -> None:
    """A message in the DLQ (or redelivered) keeps its body in the state: it does not hold
    back the reclaiming of the inbox rows after it, and it is still delivered whole."""
    path = tmp_path / "q.db"
    queue = SqliteQueue(path, "votes", visibility_timeout=0.05, max_receive_count=1)
    queue.send([b"poison"])
    [first] = queue.receive(1)
    assert queue.receive(1, wait_seconds=1) == []  # the next receive moved it to the DLQ
    queue.send([str(i).encode() for i in range(100)])
    got = queue.receive(100, visibility_timeout=60)
    assert queue.delete([m.receipt_handle for m in got]) == 100
    queue.reclaim()
    inbox = connect(path).execute("SELECT count(*) FROM inbox").fetchone()[0]
    assert inbox == 0  # the DLQ'd message's row too: its body is in the state
    assert queue.peek(dlq=True, count=1)[0][1] == "poison"
    assert queue.redrive() == 1
    [again] = queue.receive(1)
    assert again.body == "poison" and again.message_id == first.message_id


def test_a_sender_never_reclaims_from_an_inbox_the_state_does_not_belong_to(
    tmp_path: Path,
) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "votes")
    queue.send([b"a", b"b"])
    queue.delete([m.receipt_handle for m in queue.receive(10)])
    queue.close()
    for path in tmp_path.glob("q.db*"):  # the inbox only: the state (cursor 2) stays
        path.unlink()
    fresh = SqliteQueue(tmp_path / "q.db", "votes")
    fresh.send([b"new"])
    fresh.send([b"newer"])
    assert fresh.reclaim() == 0
    assert connect(tmp_path / "q.db").execute("SELECT count(*) FROM inbox").fetchone()[0] == 2


def test_consumers_never_take_the_inbox_write_lock(tmp_path: Path) -> None:
    """Everything a consumer does works while a sender holds the inbox's write lock, so a
    consumer stopped at any moment can never hold the lock senders need."""
    path = tmp_path / "q.db"
    SqliteQueue(path, "votes").send([str(i).encode() for i in range(5000)])
    sender = connect(path, lock_wait=0)
    sender.execute("BEGIN IMMEDIATE")  # a sender mid-commit, in another process
    try:
        consumer = SqliteQueue(path, "votes", visibility_timeout=0.05, lock_wait=0)
        got = consumer.receive(5000)
        assert consumer.delete([m.receipt_handle for m in got[:4000]]) == 4000  # old GC: 2048
        assert len(consumer.receive(1000, wait_seconds=5)) == 1000  # redelivered, bodies kept
        consumer.stats()
        consumer.close()
    finally:
        sender.execute("ROLLBACK")


def test_the_tables_wal_is_emptied_when_the_writer_idles(tmp_path: Path) -> None:
    table = SqliteVoteTable(tmp_path / "t.db")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    votes = [Vote(f"u{i}", "t", "story", 3, at) for i in range(20_000)]
    for start in range(0, len(votes), 1000):
        table.put_latest(votes[start : start + 1000])
    wal = tmp_path / "t.db-wal"
    assert wal.stat().st_size > 0
    assert table.truncate_wal()
    assert wal.stat().st_size == 0
    assert table.count() == 20_000


def _sender(
    up: Up, answers: list[httpx.Response], errors: list[str], done: threading.Event
) -> None:
    with httpx.Client(base_url=up.url, timeout=10.0) as client:
        n = 0
        while not done.is_set():
            n += 1
            vote = {"user_id": f"{threading.get_ident()}-{n}", "title_id": "t", "aspect": "story"}
            try:
                answers.append(client.post("/votes", json={**vote, "score": 3}))
            except httpx.HTTPError as exc:  # no answer within 10 s
                errors.append(repr(exc))


@contextlib.contextmanager
def senders_running(up: Up) -> Iterator[tuple[list[httpx.Response], list[str]]]:
    """Four clients posting votes to ``up`` until the block ends: their answers, their errors."""
    answers: list[httpx.Response] = []
    errors: list[str] = []
    done = threading.Event()
    senders = [threading.Thread(target=_sender, args=(up, answers, errors, done)) for _ in range(4)]
    for thread in senders:
        thread.start()
    try:
        yield answers, errors
    finally:
        done.set()
        for thread in senders:
            thread.join(30)


def test_senders_are_answered_while_the_consumers_are_stopped_at_any_moment(
    up_factory: Callable[..., Up],
) -> None:
    """The processor and the writer stopped (SIGSTOP) at random moments, for a while each,
    then both at once: every request is answered 202 (or a JSON 503 with Retry-After),
    within the client's 10 s, and every 202'd vote is stored once they go on."""
    up = up_factory("--visibility-timeout", "2")
    pids = children(up)
    consumers = [pids["processor"], pids["writer"]]
    with senders_running(up) as (answers, errors):
        rng = random.Random(16)
        try:
            for round_ in range(30):
                stopped = [consumers[round_ % 2]] if round_ < 28 else consumers
                before = len(answers)
                threading.Event().wait(rng.uniform(0, 0.05))  # a random moment of its work
                for pid in stopped:
                    os.kill(pid, signal.SIGSTOP)
                poll(lambda before=before: len(answers) >= before + 50 or errors, timeout=30)
                for pid in stopped:
                    os.kill(pid, signal.SIGCONT)
        finally:
            for pid in consumers:
                os.kill(pid, signal.SIGCONT)
    assert errors == []
    statuses = {r.status_code for r in answers}
    assert statuses <= {202, 503}, statuses
    for refused in (r for r in answers if r.status_code == 503):
        assert "retry-after" in refused.headers and "error" in refused.json()
    accepted = sum(r.status_code == 202 for r in answers)
    assert accepted > 1000
    poll(lambda: up.stored() >= accepted, timeout=60)
    assert up.stored() == accepted


# An answer within this is "answered, not hung": the send budget plus generous slack for a
# loaded machine; before the budget a held lock kept every client waiting 30 s.
ANSWER_SECONDS = SEND_BUDGET_SECONDS + 9


def _refused_as_the_receiver_does(response: httpx.Response) -> bool:
    """A JSON 503 with Retry-After, as the receiver's on AWS when SQS takes no send."""
    return (
        response.status_code == 503
        and response.headers.get("retry-after") == "2"
        and response.json()["error"].startswith("votes queue unavailable; retry")
    )


def _answered(answers: list[httpx.Response], errors: list[str], count: int) -> None:
    """Wait until ``count`` requests are answered (or one went unanswered)."""
    poll(lambda: len(answers) >= count or errors, timeout=60)


def test_a_consumer_stopped_inside_its_transaction_never_delays_a_202(
    up_factory: Callable[..., Up],
) -> None:
    """The processor, then the writer, stopped (SIGSTOP) while it holds a write lock of its
    own: senders meanwhile get 202 every time, within the client's timeout (the consumers
    never take the lock the gateway needs); every 202'd vote is stored once they go on."""
    up = up_factory("--visibility-timeout", "2")
    pids = children(up)
    with senders_running(up) as (answers, errors):
        rng = random.Random(16)
        try:
            for stage in ("processor", "writer"):
                poll(lambda: len(answers) >= 50 or errors)  # the pipeline under load
                stop_inside_a_transaction(pids[stage], consumer_files(up.data_dir, stage), rng)
                _answered(answers, errors, len(answers) + 100)
                os.kill(pids[stage], signal.SIGCONT)
        finally:
            for pid in (pids["processor"], pids["writer"]):
                os.kill(pid, signal.SIGCONT)
    assert errors == []
    assert {r.status_code for r in answers} == {202}
    poll(lambda: up.stored() >= len(answers), timeout=60)
    assert up.stored() == len(answers)


def test_a_held_inbox_lock_gets_503s_within_the_budget_and_stores_none_of_them(up: Up) -> None:
    """Another connection holds the votes inbox's write lock (a `sqlite3` shell's BEGIN
    IMMEDIATE, a stopped gateway worker): every request is answered within the send budget
    (plus slack) with the receiver's JSON 503 and Retry-After, none of their votes is stored;
    once the lock is released, requests get 202 and all of those are stored."""
    inbox = Layout.of(up.data_dir).votes_db
    sent_before = _messages_ever_sent(inbox)
    holder = connect(inbox, lock_wait=10)
    holder.execute("BEGIN IMMEDIATE")
    held: list[httpx.Response] = []
    errors: list[str] = []

    def send(prefix: str, out: list[httpx.Response], count: int = 1) -> None:
        with httpx.Client(base_url=up.url, timeout=ANSWER_SECONDS) as client:
            for n in range(count):
                vote = {"user_id": f"{prefix}-{n}", "title_id": "t", "aspect": "story", "score": 3}
                try:
                    out.append(client.post("/votes", json=vote))
                except httpx.HTTPError as exc:  # no answer within ANSWER_SECONDS
                    errors.append(repr(exc))

    try:
        threads = [threading.Thread(target=send, args=(f"held{i}", held)) for i in range(12)]
        for thread in threads:
            thread.start()
            threading.Event().wait(0.02)  # some arrive while an earlier commit waits
        for thread in threads:
            thread.join(60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert errors == []
    assert len(held) == 12
    assert all(_refused_as_the_receiver_does(r) for r in held), [r.text for r in held]
    # refused once the budget ran out, not at once: the first batch waited all of it
    assert max(r.elapsed.total_seconds() for r in held) >= SEND_BUDGET_SECONDS
    assert _messages_ever_sent(inbox) == sent_before  # not one of them was committed
    after: list[httpx.Response] = []
    send("free", after, 2)
    assert errors == [] and [r.status_code for r in after] == [202, 202]
    poll(lambda: up.stored() >= 2)
    assert up.stored() == 2


def _messages_ever_sent(inbox: Path) -> int:
    """The inbox's id counter: it counts every message committed, reclaimed ones too."""
    queue = SqliteQueue(inbox, "votes", lock_wait=0)
    try:
        return queue.sent_total()
    finally:
        queue.close()
