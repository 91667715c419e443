"""A queue with SQS semantics on SQLite (WAL), shared by any number of processes.

A queue is two files, so that senders and consumers never wait for each other's lock:

- the inbox (``path``): what senders append, one row per message with its body. Only senders
  write it, and consumers' garbage collection now and then;
- the state (``<stem>-state.db`` beside it): what consumers know about messages they have
  adopted: visibility, receive count, DLQ membership, and the last inbox id adopted. Only
  consumers (and redrive) write it.

A receive first redelivers adopted messages whose visibility ran out, then adopts the next
inbox messages in id order. A delete removes the state row; the inbox row, now garbage, is
deleted later in batches. What it keeps of SQS: batch send/receive/delete, long-poll receive,
per-message visibility timeout and receive count, the move to the DLQ on the receive after
``max_receive_count`` receives, delay, approximate counts, redrive. Receive walks indexes, so it
costs the same with a backlog of a million as with ten.

A committed send survives ``kill -9`` of every process (see ``votectl.local.db.connect``).

The two files know each other: the inbox holds a random identity made when it was created, and
the state records the identity of the inbox it adopts from. Opening the state with another
inbox (recreated, or restored from elsewhere), or with an inbox whose ids stop below the state's
cursor (restored from an older copy), raises ``MismatchedFiles``: adopting from it would skip
its messages, and the next sweep would delete them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec

from votectl.errors import VotectlError
from votectl.local.db import Transaction, connect
from votectl.model import QueueStat

__all__ = ["MismatchedFiles", "Message", "SqliteQueue", "StaleDataDir"]

log = logging.getLogger("votectl.queue")

# AUTOINCREMENT: inbox ids are never reused, so the adoption cursor only moves forward.
_INBOX = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identity (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL);
INSERT INTO identity SELECT 1, lower(hex(randomblob(16)))
WHERE NOT EXISTS (SELECT 1 FROM identity);
"""
_STATE = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS adopted (queue TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox_identity (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT);
"""
_SEND = "INSERT INTO inbox (sent_at, visible_at, body) SELECT ?1, ?2, value FROM json_each(?3)"
_IDS = "SELECT value FROM json_each(?)"
_encode = msgspec.json.encode


def _json(value: object) -> str:
    """JSON text (str: SQLite would take bytes for a BLOB, which newer versions read as JSONB)."""
    return _encode(value).decode()


_GC_BATCH = 2048  # inbox rows deleted per garbage collection


class StaleDataDir(VotectlError):
    hint = "remove the data dir (or pass another --data-dir); queued messages in it are lost"


class MismatchedFiles(VotectlError):
    hint = (
        "put back the inbox file that belongs with the state file; or, to start that queue "
        "afresh, remove both (<queue>.db* and <queue>-state.db*): messages in them are lost"
    )


def _parse(receipt_handles: Sequence[str]) -> list[tuple[int, int]]:
    """(message id, receipt) of each handle "<id>.<receipt>"."""
    return [(int(i), int(r)) for i, _, r in (h.partition(".") for h in receipt_handles)]


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
    """One named queue (and its DLQ, ``<name>-dlq``): an inbox file and a state file."""

    max_message_bytes = 256 * 1024

    def __init__(
        self,
        path: Path | str,
        name: str,
        visibility_timeout: float = 30.0,
        max_receive_count: int = 3,
        lock_wait: float = 30.0,
        checkpoints: bool = True,
        read_only: bool = False,
    ) -> None:
        """``lock_wait``: seconds a send waits for another process's lock on the inbox; 0
        raises ``Locked`` at once (the gateway's event loop retries later instead of blocking).
        ``checkpoints=False``: this sender leaves the inbox's WAL checkpoints (disk writes and
        syncs) to the consumers' garbage collection. The state file, opened on first use, is
        only for consumers. ``read_only``: for ``stats`` on a data dir that cannot be written."""
        self.path = Path(path)
        self.state_path = self.path.with_name(f"{self.path.stem}-state.db")
        self.name = name
        self.dlq_name = f"{name}-dlq"
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.arn = f"arn:aws:sqs:local:000000000000:{name}"
        self._read_only = read_only
        self._inbox = connect(self.path, _INBOX, lock_wait, read_only)
        if not checkpoints:
            self._inbox.execute("PRAGMA wal_autocheckpoint = 0")
        earlier = "SELECT 1 FROM sqlite_master WHERE name IN ('bodies', 'messages')"
        if self._inbox.execute(earlier).fetchone():
            self._inbox.close()
            raise StaleDataDir(f"{self.path} was written by an earlier votectl")
        self._state_con: sqlite3.Connection | None = None
        self._garbage: list[int] = []
        self._swept = False

    @classmethod
    def create(cls, path: Path | str, name: str) -> None:
        """Create both files of the queue, before several processes race to; raises
        ``StaleDataDir`` for files an earlier votectl wrote."""
        queue = cls(path, name)
        try:
            queue.stats()  # opens, and so creates and checks, the state file
        finally:
            queue.close()

    def close(self) -> None:
        if self._state_con is not None:
            self._collect()
            self._state_con.close()
        self._inbox.close()

    @property
    def _state(self) -> sqlite3.Connection:
        if self._state_con is None:
            con = connect(self.state_path, read_only=self._read_only)
            columns = {row[1] for row in con.execute("PRAGMA table_info(messages)")}
            if columns and "receipt" not in columns:
                con.close()
                raise StaleDataDir(f"{self.state_path} was written by an earlier votectl")
            if not self._read_only:
                con.executescript(_STATE)
            try:
                self._check_belongs(con)
            except BaseException:
                con.close()
                raise
            self._state_con = con
        return self._state_con

    def _check_belongs(self, state: sqlite3.Connection) -> None:
        """Raise MismatchedFiles unless the inbox is the one this state adopted from."""
        (inbox_id,) = self._inbox.execute("SELECT id FROM identity").fetchone()
        with contextlib.nullcontext() if self._read_only else Transaction(state):
            row = state.execute("SELECT id FROM inbox_identity").fetchone()
            if row is None and not self._read_only:  # new, or from before identities: adopt
                state.execute("INSERT INTO inbox_identity VALUES (1, ?)", (inbox_id,))
            cursor = state.execute("SELECT coalesce(max(last_id), 0) FROM adopted").fetchone()[0]
        sequence = self._inbox.execute(
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'inbox'"
        ).fetchone()[0]
        if row is not None and row[0] != inbox_id:
            why = "was recreated, or comes from another data dir"
        elif cursor > sequence:
            why = f"ends at message {sequence}, but {self.state_path.name} adopted up to {cursor}"
        else:
            return
        raise MismatchedFiles(f"{self.path} does not belong with {self.state_path.name}: it {why}")

    # --- sending ----------------------------------------------------------------------

    def send(self, bodies: Sequence[bytes | str], delay_seconds: float = 0) -> None:
        """Append ``bodies`` in one transaction; returns once they are committed.

        Raises ``Locked`` if another writer holds the lock longer than ``lock_wait``.
        """
        now = _now_ms()
        texts = [b if isinstance(b, str) else b.decode() for b in bodies]
        if any("\x00" in t for t in texts):  # SQS refuses it too; json_each would cut there
            raise ValueError("a message body contains a NUL character")
        with Transaction(self._inbox) as con:
            con.execute(_SEND, (now, now + int(delay_seconds * 1000), _json(texts)))

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
            self._collect()  # idle: a good time to delete garbage
            time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    def _last_adopted(self) -> int:
        row = self._state.execute(
            "SELECT last_id FROM adopted WHERE queue = ?", (self.name,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _receive_once(self, max_messages: int, visibility_timeout: float | None) -> list[Message]:
        vt = int(
            (self.visibility_timeout if visibility_timeout is None else visibility_timeout) * 1000
        )
        state = self._state
        if not self._swept:
            self._sweep()
        now = _now_ms()
        # Checked without the write lock: an idle poll never blocks another consumer.
        visible = "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1"
        if state.execute(visible, (self.name, now)).fetchone() is None:
            last = self._last_adopted()
            if self._inbox.execute("SELECT 1 FROM inbox WHERE id > ?", (last,)).fetchone() is None:
                return []
        with Transaction(state):
            now = _now_ms()
            rows = state.execute(
                "SELECT id, sent_at, receive_count, first_received_at, receipt FROM messages "
                "WHERE queue = ? AND visible_at <= ? ORDER BY visible_at LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            spent = [(self.dlq_name, now, r[0]) for r in rows if r[2] >= self.max_receive_count]
            if spent:
                state.executemany(
                    "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, "
                    "first_received_at = NULL WHERE id = ?",
                    spent,
                )
            live = [r for r in rows if r[2] < self.max_receive_count]
            state.executemany(
                "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1, "
                "receipt = receipt + 1, first_received_at = coalesce(first_received_at, ?) "
                "WHERE id = ?",
                [(now + vt, now, r[0]) for r in live],
            )
            room = max_messages - len(rows)
            fresh = self._adopt(room, now, vt) if room > 0 else []
        name = self.name
        messages = [Message(f"{name}-{i}", f"{i}.1", body, sent, 1, now) for i, sent, body in fresh]
        if live:
            # Read the bodies after the commit: the messages are hidden now, the lock is free.
            bodies = dict(
                self._inbox.execute(
                    f"SELECT id, body FROM inbox WHERE id IN ({_IDS})",
                    (_json([r[0] for r in live]),),
                )
            )
            messages += [
                Message(f"{name}-{i}", f"{i}.{g + 1}", bodies[i], sent, n + 1, first or now)
                for i, sent, n, first, g in live
                if i in bodies
            ]
            lost = [r[0] for r in live if r[0] not in bodies]
            if lost:  # only an OS crash between the two files' commits leaves a row bodiless
                self._drop(lost)
        return messages

    def _drop(self, ids: list[int]) -> None:
        """Forget state rows whose body is gone: they could never be delivered."""
        log.warning("%s: %d message(s) without a body dropped: %s", self.name, len(ids), ids[:10])
        with Transaction(self._state) as state:
            state.execute(f"DELETE FROM messages WHERE id IN ({_IDS})", (_json(ids),))

    def _adopt(self, room: int, now: int, vt: int) -> list[tuple[int, int, str]]:
        """Take the next ``room`` inbox messages into the state (in its transaction): the
        visible ones as received now, the delayed ones as waiting. Returns (id, sent_at, body)
        of the received."""
        new = self._inbox.execute(
            "SELECT id, sent_at, visible_at, body FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
            (self._last_adopted(), room),
        ).fetchall()
        if not new:
            return []
        fresh = [(i, sent, body) for i, sent, visible, body in new if visible <= now]
        self._state.execute(
            "INSERT INTO messages (id, queue, sent_at, visible_at, receive_count, receipt, "
            "first_received_at) SELECT json_extract(value, '$[0]'), ?1, "
            "json_extract(value, '$[1]'), ?2, 1, 1, ?3 FROM json_each(?4)",
            (self.name, now + vt, now, _json([(i, sent) for i, sent, _ in fresh])),
        )
        if len(fresh) < len(new):
            self._state.executemany(
                "INSERT INTO messages (id, queue, sent_at, visible_at) VALUES (?, ?, ?, ?)",
                [(i, self.name, sent, visible) for i, sent, visible, _ in new if visible > now],
            )
        self._state.execute(
            "INSERT OR REPLACE INTO adopted (queue, last_id) VALUES (?, ?)", (self.name, new[-1][0])
        )
        return fresh

    def delete(self, receipt_handles: Sequence[str]) -> int:
        """Delete received messages. A stale handle (the message was received again since, or
        moved to the DLQ) deletes nothing, so a slow consumer cannot delete another's delivery.
        A receipt counts every receive and is never reset, so no handle is ever issued twice."""
        by_receipt: dict[int, list[int]] = {}
        for message, receipt in _parse(receipt_handles):
            by_receipt.setdefault(receipt, []).append(message)
        match = f"id IN ({_IDS}) AND receipt = ? AND receipt > 0 AND queue = ?"
        deleted: list[int] = []
        with Transaction(self._state) as state:
            for receipt, ids in by_receipt.items():  # a pair of statements per receipt: usually one
                args = (_json(ids), receipt, self.name)
                found = state.execute(f"SELECT id FROM messages WHERE {match}", args)
                deleted += [row[0] for row in found]
                state.execute(f"DELETE FROM messages WHERE {match}", args)
        self._garbage += deleted  # exactly these bodies can never be delivered again
        if len(self._garbage) >= _GC_BATCH:
            self._collect()
        return len(deleted)

    def _collect(self) -> None:
        """Delete the inbox rows of deleted messages, in short transactions on the inbox (a
        sender waits while one runs)."""
        while self._garbage:
            chunk = self._garbage[:_GC_BATCH]
            with Transaction(self._inbox) as inbox:
                inbox.execute(f"DELETE FROM inbox WHERE id IN ({_IDS})", (_json(chunk),))
            del self._garbage[:_GC_BATCH]

    def _sweep(self) -> None:
        """Once per consumer: delete the garbage an earlier consumer left when it died.

        An adopted id absent from the state was deleted for good: ids are adopted only above
        the cursor, so read the cursor first and the live ids second."""
        self._swept = True
        last = self._last_adopted()
        live = {i for (i,) in self._state.execute("SELECT id FROM messages WHERE id <= ?", (last,))}
        stored = self._inbox.execute("SELECT id FROM inbox WHERE id <= ?", (last,))
        self._garbage += [i for (i,) in stored if i not in live]
        self._collect()

    def change_visibility(self, receipt_handles: Sequence[str], timeout: float) -> None:
        visible = _now_ms() + int(timeout * 1000)
        rows = [(visible, i, receipt, self.name) for i, receipt in _parse(receipt_handles)]
        with Transaction(self._state) as state:
            state.executemany(
                "UPDATE messages SET visible_at = ? "
                "WHERE id = ? AND receipt = ? AND receipt > 0 AND queue = ?",
                rows,
            )

    # --- operating --------------------------------------------------------------------

    def stats(self) -> list[QueueStat]:
        now = _now_ms()
        state = self._state
        state.execute("BEGIN")  # the counts and the cursor from one snapshot: nothing adopted
        try:  # between the two reads can fall between them
            counts = {
                (queue, kind): n
                for queue, kind, n in state.execute(
                    "SELECT queue, CASE WHEN visible_at <= ?1 THEN 'visible' "
                    "WHEN receive_count > 0 THEN 'in_flight' ELSE 'delayed' END AS kind, "
                    "count(*) FROM messages GROUP BY queue, kind",
                    (now,),
                )
            }
            last = self._last_adopted()
        finally:
            state.execute("COMMIT")
        waiting, delayed = self._inbox.execute(
            "SELECT count(*), count(CASE WHEN visible_at > ? THEN 1 END) FROM inbox WHERE id > ?",
            (now, last),
        ).fetchone()

        def stat(queue: str, dlq: bool) -> QueueStat:
            extra = (0, 0) if dlq else (waiting - delayed, delayed)
            return QueueStat(
                name=queue,
                visible=counts.get((queue, "visible"), 0) + extra[0],
                in_flight=counts.get((queue, "in_flight"), 0),
                delayed=counts.get((queue, "delayed"), 0) + extra[1],
                dlq=dlq,
                source=self.name if dlq else None,
            )

        return [stat(self.name, False), stat(self.dlq_name, True)]

    def sent_total(self) -> int:
        """Messages ever sent to this queue (inbox ids are never reused): a rate's counter."""
        row = self._inbox.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone()
        return int(row[0]) if row else 0

    def peek(self, dlq: bool, count: int) -> list[tuple[str, str, int, int]]:
        """Up to ``count`` messages of the queue (or its DLQ), oldest first, as (message id,
        body, sent at ms, receive count). Reads only: no receive count or visibility changes."""
        queue = self.dlq_name if dlq else self.name
        rows = self._state.execute(
            "SELECT id, sent_at, receive_count FROM messages WHERE queue = ? ORDER BY id LIMIT ?",
            (queue, count),
        ).fetchall()
        if not dlq and len(rows) < count:  # sent, not yet adopted by a consumer
            rows += self._inbox.execute(
                "SELECT id, sent_at, 0 FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
                (self._last_adopted(), count - len(rows)),
            ).fetchall()
        bodies = dict(
            self._inbox.execute(
                f"SELECT id, body FROM inbox WHERE id IN ({_IDS})", (_json([r[0] for r in rows]),)
            ).fetchall()
        )
        return [(f"{self.name}-{i}", bodies.get(i, ""), sent, n) for i, sent, n in rows]

    def redrive(self) -> int:
        """Move every DLQ message back to the source queue, visible now, receive count reset;
        how many moved."""
        return len(self.redrive_ids())

    def redrive_ids(self) -> list[int]:
        """``redrive``, returning the ids of the messages moved (for ``whereabouts``)."""
        with Transaction(self._state) as state:
            listed = state.execute("SELECT id FROM messages WHERE queue = ?", (self.dlq_name,))
            ids = [row[0] for row in listed]
            state.execute(
                "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, "
                "first_received_at = NULL WHERE queue = ?",
                (self.name, _now_ms(), self.dlq_name),
            )
        return ids

    def whereabouts(self, ids: Sequence[int]) -> tuple[int, int, int]:
        """Of the messages ``ids``: (deleted, that is handled; back in the DLQ; still queued)."""
        rows = self._state.execute(
            f"SELECT queue, count(*) FROM messages WHERE id IN ({_IDS}) GROUP BY queue",
            (_json(list(ids)),),
        ).fetchall()
        where = dict(rows)
        back, queued = where.get(self.dlq_name, 0), where.get(self.name, 0)
        return len(ids) - back - queued, back, queued
