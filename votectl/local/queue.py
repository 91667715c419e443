"""A queue with SQS semantics on one SQLite file (WAL), shared by any number of processes.

One file holds a queue and its DLQ. What it keeps of SQS: batch send/receive/delete, long-poll
receive, per-message visibility timeout and receive count, the move to the DLQ on the receive
after ``max_receive_count`` receives, delay, approximate counts, redrive. Receive walks the
index on (queue, visible_at), so it costs the same with a backlog of a million as with ten.

A committed send survives ``kill -9`` of every process (see ``votectl.local.db.connect``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from votectl.local.db import Transaction, connect
from votectl.model import QueueStat

__all__ = ["Message", "SqliteQueue"]

# A message's state and its body live in two tables: SQLite rewrites a whole row on UPDATE,
# and a receive updates the state, so a 50 KB body would be rewritten on every receive.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS messages_drop_body AFTER DELETE ON messages
BEGIN
    DELETE FROM bodies WHERE id = old.id;
END;
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


class Message(NamedTuple):
    """A received message (a tuple: a poller makes thousands a second)."""

    message_id: str
    receipt_handle: str
    body: str
    sent_at: int
    receive_count: int
    first_received_at: int

    def sqs_record(self, arn: str, region: str) -> dict[str, object]:
        """The record Lambda's SQS event source mapping would deliver."""
        return {
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": self.body,
            "attributes": {
                "ApproximateReceiveCount": str(self.receive_count),
                "SentTimestamp": str(self.sent_at),
                "SenderId": "votectl-local",
                "ApproximateFirstReceiveTimestamp": str(self.first_received_at),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(self.body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": region,
        }


class SqliteQueue:
    """One named queue (and its DLQ, ``<name>-dlq``) in one SQLite file."""

    max_message_bytes = 256 * 1024

    def __init__(
        self,
        path: Path | str,
        name: str,
        visibility_timeout: float = 30.0,
        max_receive_count: int = 3,
        lock_wait: float = 30.0,
    ) -> None:
        """``lock_wait``: seconds a write waits for another process's lock; 0 raises
        ``Locked`` at once (the gateway's event loop retries later instead of blocking)."""
        self.path = Path(path)
        self.name = name
        self.dlq_name = f"{name}-dlq"
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.arn = f"arn:aws:sqs:local:000000000000:{name}"
        self._con = connect(self.path, _SCHEMA, lock_wait)

    def close(self) -> None:
        self._con.close()

    # --- sending ----------------------------------------------------------------------

    def send(self, bodies: Sequence[bytes | str], delay_seconds: float = 0) -> None:
        """Append ``bodies`` in one transaction; returns once they are committed.

        Raises ``Locked`` if another writer holds the lock longer than ``lock_wait``.
        """
        now = _now_ms()
        visible = now + int(delay_seconds * 1000)
        con = self._con
        with Transaction(con):
            seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
            first = (seq[0] if seq else 0) + 1  # ids are never reused: receipts stay unique
            ids = range(first, first + len(bodies))
            con.executemany(
                "INSERT INTO messages (id, queue, sent_at, visible_at) VALUES (?, ?, ?, ?)",
                [(i, self.name, now, visible) for i in ids],
            )
            con.executemany(
                "INSERT INTO bodies (id, body) VALUES (?, ?)",
                [
                    (i, b if isinstance(b, str) else b.decode())
                    for i, b in zip(ids, bodies, strict=True)
                ],
            )

    # --- receiving --------------------------------------------------------------------

    def receive(
        self,
        max_messages: int = 10,
        wait_seconds: float = 0.0,
        visibility_timeout: float | None = None,
        poll_interval: float = 0.02,
    ) -> list[Message]:
        """Up to ``max_messages`` visible messages, hidden for the visibility timeout.

        Long poll: waits up to ``wait_seconds`` for at least one message.
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            messages = self._receive_once(max_messages, visibility_timeout)
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    def _receive_once(self, max_messages: int, visibility_timeout: float | None) -> list[Message]:
        vt = int(
            (self.visibility_timeout if visibility_timeout is None else visibility_timeout) * 1000
        )
        con = self._con
        now = _now_ms()
        visible = "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1"
        if con.execute(visible, (self.name, now)).fetchone() is None:
            return []  # checked without the write lock: an idle poll never blocks a sender
        with self._transaction():
            now = _now_ms()
            rows = con.execute(
                "SELECT id, sent_at, receive_count, first_received_at FROM messages "
                "WHERE queue = ? AND visible_at <= ? ORDER BY visible_at LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            spent = [(self.dlq_name, now, r[0]) for r in rows if r[2] >= self.max_receive_count]
            if spent:
                con.executemany(
                    "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, "
                    "first_received_at = NULL WHERE id = ?",
                    spent,
                )
            live = [r for r in rows if r[2] < self.max_receive_count]
            con.executemany(
                "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1, "
                "first_received_at = coalesce(first_received_at, ?) WHERE id = ?",
                [(now + vt, now, r[0]) for r in live],
            )
        if not live:
            return []
        # Read the bodies after the commit: the messages are hidden now, the lock is free.
        bodies = dict(
            con.execute(
                "SELECT id, body FROM bodies WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([r[0] for r in live]),),
            )
        )
        return [
            Message(
                message_id=f"{self.name}-{r[0]}",
                receipt_handle=f"{r[0]}.{r[2] + 1}",
                body=bodies[r[0]],
                sent_at=r[1],
                receive_count=r[2] + 1,
                first_received_at=r[3] or now,
            )
            for r in live
            if r[0] in bodies  # gone only if its visibility ran out and another consumer deleted it
        ]

    def delete(self, receipt_handles: Sequence[str]) -> int:
        """Delete received messages. A stale handle (the message was received again since)
        deletes nothing, so a slow consumer cannot delete another's delivery."""
        rows = [(int(i), int(n)) for i, _, n in (h.partition(".") for h in receipt_handles)]
        with self._transaction():
            cur = self._con.executemany(
                "DELETE FROM messages WHERE id = ? AND receive_count = ?", rows
            )
        return cur.rowcount

    def change_visibility(self, receipt_handles: Sequence[str], timeout: float) -> None:
        rows = [
            (_now_ms() + int(timeout * 1000), *(int(p) for p in h.split(".", 1)))
            for h in receipt_handles
        ]
        with self._transaction():
            self._con.executemany(
                "UPDATE messages SET visible_at = ? WHERE id = ? AND receive_count = ?", rows
            )

    # --- operating --------------------------------------------------------------------

    def stats(self) -> list[QueueStat]:
        now = _now_ms()
        counts = {
            (queue, kind): n
            for queue, kind, n in self._con.execute(
                "SELECT queue, CASE WHEN visible_at <= ?1 THEN 'visible' "
                "WHEN receive_count > 0 THEN 'in_flight' ELSE 'delayed' END AS kind, count(*) "
                "FROM messages GROUP BY queue, kind",
                (now,),
            )
        }

        def stat(queue: str, dlq: bool) -> QueueStat:
            return QueueStat(
                name=queue,
                visible=counts.get((queue, "visible"), 0),
                in_flight=counts.get((queue, "in_flight"), 0),
                delayed=counts.get((queue, "delayed"), 0),
                dlq=dlq,
                source=self.name if dlq else None,
            )

        return [stat(self.name, False), stat(self.dlq_name, True)]

    def redrive(self) -> int:
        """Move every DLQ message back to the source queue, visible now, receive count reset."""
        with self._transaction():
            cur = self._con.execute(
                "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, "
                "first_received_at = NULL WHERE queue = ?",
                (self.name, _now_ms(), self.dlq_name),
            )
        return cur.rowcount

    def _transaction(self) -> Transaction:
        return Transaction(self._con)
