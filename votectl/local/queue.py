"""A queue with SQS semantics on one SQLite file (WAL), shared by any number of processes.

One file holds a queue and its DLQ. What it keeps of SQS: batch send/receive/delete, long-poll
receive, per-message visibility timeout and receive count, the move to the DLQ on the receive
after ``max_receive_count`` receives, delay, approximate counts, redrive. Receive walks the
index on (queue, visible_at), so it costs the same with a backlog of a million as with ten.

A committed send survives ``kill -9`` of every process (see ``votectl.local.db.connect``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from votectl.local.db import Transaction, connect
from votectl.model import QueueStat

__all__ = ["Message", "SqliteQueue"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Message:
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
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.dlq_name = f"{name}-dlq"
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.arn = f"arn:aws:sqs:local:000000000000:{name}"
        self._con = connect(self.path, _SCHEMA)

    def close(self) -> None:
        self._con.close()

    # --- sending ----------------------------------------------------------------------

    def send(self, bodies: Sequence[bytes | str], delay_seconds: float = 0) -> None:
        """Append ``bodies`` in one transaction; returns once they are committed."""
        now = _now_ms()
        visible = now + int(delay_seconds * 1000)
        rows = [(self.name, b if isinstance(b, str) else b.decode(), now, visible) for b in bodies]
        with self._transaction():
            self._con.executemany(
                "INSERT INTO messages (queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?)", rows
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
        with self._transaction():
            now = _now_ms()
            rows = con.execute(
                "SELECT id, body, sent_at, receive_count, first_received_at FROM messages "
                "WHERE queue = ? AND visible_at <= ? ORDER BY visible_at LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            if not rows:
                return []
            spent = [(self.dlq_name, now, r[0]) for r in rows if r[3] >= self.max_receive_count]
            if spent:
                con.executemany(
                    "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, "
                    "first_received_at = NULL WHERE id = ?",
                    spent,
                )
            live = [r for r in rows if r[3] < self.max_receive_count]
            con.executemany(
                "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1, "
                "first_received_at = coalesce(first_received_at, ?) WHERE id = ?",
                [(now + vt, now, r[0]) for r in live],
            )
        return [
            Message(
                message_id=f"{self.name}-{r[0]}",
                receipt_handle=f"{r[0]}.{r[3] + 1}",
                body=r[1],
                sent_at=r[2],
                receive_count=r[3] + 1,
                first_received_at=r[4] or now,
            )
            for r in live
        ]

    def delete(self, receipt_handles: Sequence[str]) -> int:
        """Delete received messages. A stale handle (the message was received again since)
        deletes nothing, so a slow consumer cannot delete another's delivery."""
        rows = [tuple(int(p) for p in h.split(".", 1)) for h in receipt_handles]
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
