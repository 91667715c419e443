"""Pollers: what Lambda's SQS event source mapping does, on one machine.

Receive a batch, invoke the handler with an SQS event, delete what succeeded. Records named in
``batchItemFailures`` stay invisible until their visibility timeout runs out, then come back;
a handler that raises fails the whole batch. After max receives a message moves to the DLQ.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambdas.batch import Count
from lambdas.contract import Invalid
from lambdas.deadline import LocalContext
from lambdas.envelope import read
from votectl.local.orphan import supervisor_alive
from votectl.local.queue import Message, SqliteQueue

__all__ = [
    "DAMAGED_EXIT",
    "BatchOutcome",
    "Poller",
    "PollerSpec",
    "damaged",
    "pause_after",
    "run_poller",
]

log = logging.getLogger("votectl.poller")
DAMAGED_EXIT = 3  # a poller's exit code when a data file is damaged: the supervisor stops


def damaged(exc: BaseException) -> bool:
    """SQLite says a file is corrupt (not busy, full or read-only: those can pass)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


POLLER_NICENESS = 10
IDS_ON_A_FAILURE = 20
"""Correlation ids a failed batch's log line names (`votectl logs` and the canary find it)."""
LOCAL_SLICE_VOTES = 1_000_000
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    received: int
    deleted: int
    failed: int


class Poller:
    """``budget``: the seconds each invocation may take (its context's remaining time), the
    role of Lambda's function timeout: a batch must be done before its messages reappear.

    ``on_idle``: called after a receive that found nothing, at most once a second (the
    writer empties the table's WAL then)."""

    def __init__(
        self,
        queue: SqliteQueue,
        handler: Handler,
        batch_size: int = 1000,
        budget: float = 30.0,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.batch_size = batch_size
        self.budget = budget
        self.on_idle = on_idle
        self._idle_at = 0.0

    def poll_once(self, wait_seconds: float = 0.5) -> BatchOutcome:
        messages = self.queue.receive(self.batch_size, wait_seconds=wait_seconds)
        if not messages:
            if self.on_idle is not None and time.monotonic() >= self._idle_at:
                self._idle_at = time.monotonic() + 1.0
                self.on_idle()
            return BatchOutcome(0, 0, 0)
        event = {"Records": [m.sqs_record(self.queue.arn, "local") for m in messages]}
        try:
            response = self.handler(event, LocalContext(self.budget)) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception as exc:  # the whole batch fails, as on Lambda
            if damaged(exc):  # no retry can succeed: the runtime must stop, not fill the DLQ
                raise
            log.warning(
                "%s handler failed, batch of %d returns: %s%s",
                self.queue.name,
                len(messages),
                exc,
                _naming(messages),
            )
            return BatchOutcome(len(messages), 0, len(messages))
        done = [m.receipt_handle for m in messages if m.message_id not in failed]
        deleted = self.queue.delete(done) if done else 0
        return BatchOutcome(len(messages), deleted, len(messages) - len(done))


def _naming(messages: list[Message]) -> str:
    """The suffix naming a batch's correlation ids (its votes' request ids, as the handlers log
    them), so a failure the handler never saw (it raised first) is found by the ids too."""
    ids: dict[str, None] = {}
    for m in messages:
        try:
            ids.update(dict.fromkeys(read(m.body).correlation_ids))
        except Invalid:
            continue
        if len(ids) >= IDS_ON_A_FAILURE:
            break
    named = list(ids)[:IDS_ON_A_FAILURE]
    return f" (correlation ids: {', '.join(named)})" if named else ""


@dataclass(frozen=True)
class PollerSpec:
    """What a poller process needs; picklable, so the supervisor can spawn it."""

    stage: str  # "processor" or "writer"
    data_dir: str
    visibility_timeout: float
    max_receive_count: int
    chaos: float = 0.0
    batch_size: int = 1000
    # Lambda's MaximumBatchingWindowInSeconds, locally: poll at most once per window unless
    # the last batch came full. Fewer, larger batches cost less per vote: a table page is
    # written once per commit however many of its votes changed (writer: 6.8 us/vote with
    # 50 ms, 5.9 with 100 ms, under the benchmark's load).
    batch_window: float = 0.1


def build_poller(spec: PollerSpec, count: Count | None = None) -> Poller:
    from lambdas import processor, writer
    from votectl.local.chaos import chaotic
    from votectl.local.layout import Layout
    from votectl.local.table import SqliteVoteTable

    layout = Layout.of(spec.data_dir)
    votes = SqliteQueue(layout.votes_db, "votes", spec.visibility_timeout, spec.max_receive_count)
    ready = SqliteQueue(layout.ready_db, "ready", spec.visibility_timeout, spec.max_receive_count)
    idle = None
    if spec.stage == "processor":
        source, handler = votes, processor.make_handler(ready, count)
    else:
        # one slice, one SQLite transaction per batch: fewer commits cost less per vote
        table = SqliteVoteTable(layout.table_db)
        write = writer.make_handler(table, count, requeue=ready, slice_votes=LOCAL_SLICE_VOTES)
        source, handler, idle = ready, write, table.truncate_wal
    budget = spec.visibility_timeout
    handler = chaotic(spec.stage, handler, spec.chaos)
    return Poller(source, handler, spec.batch_size, budget, on_idle=idle)


def run_poller(spec: PollerSpec, rejected: Any, stop: Any) -> None:
    """A poller process's main: poll until ``stop`` is set or the supervisor is gone.

    Signals are the supervisor's to handle; it sets ``stop`` and the current batch finishes.
    ``rejected`` (shared ``Counters``, a slot per stage) counts the votes the handler rejected.
    A SQLite error (a full disk, say) fails the round, not the process: it is logged once per
    streak and retried after a pause that doubles up to 5 s.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format=f"{spec.stage}: %(message)s")
    # the handlers' batch lines (INFO) are what `votectl logs` shows; LOG_LEVEL=WARNING quiets
    os.environ.setdefault("LOG_LEVEL", "INFO")
    # Below the endpoint: when the cores are busy, accepting votes (durable once queued) comes
    # first and the pollers catch up after, as the queues are there for.
    os.nice(POLLER_NICENESS)

    slot = 0 if spec.stage == "processor" else 1

    def count(stage: str, n: int) -> None:
        rejected.add(slot, n)

    try:
        poller = build_poller(spec, count)
    except sqlite3.Error as exc:  # a full disk, say: one line; the supervisor restarts us later
        log.error("cannot open the data dir's files: %s", exc)
        sys.exit(DAMAGED_EXIT if damaged(exc) else 1)
    backoff = 0.0
    while not stop.is_set() and supervisor_alive():
        started = time.monotonic()
        try:
            outcome = poller.poll_once()
        except sqlite3.Error as exc:
            if damaged(exc):
                log.error("stopping: a data file is damaged (%s)", exc)
                sys.exit(DAMAGED_EXIT)
            if not backoff:
                log.warning("cannot poll %s (%s); retrying", poller.queue.name, exc)
            backoff = min(backoff * 2 or 0.1, 5.0)
            stop.wait(backoff)
            continue
        if backoff:
            log.warning("polling %s again", poller.queue.name)
            backoff = 0.0
        pause = pause_after(outcome, spec, time.monotonic() - started)
        if pause:
            stop.wait(pause)
    with contextlib.suppress(sqlite3.Error):
        poller.queue.close()  # deletes the garbage it still holds


def pause_after(outcome: BatchOutcome, spec: PollerSpec, elapsed: float) -> float:
    """Seconds to gather before the next receive: the rest of the batching window after a
    partial batch; none after a full one (more is waiting) or an empty one (the receive's own
    long poll waited already)."""
    if 0 < outcome.received < spec.batch_size:
        return max(0.0, spec.batch_window - elapsed)
    return 0.0
