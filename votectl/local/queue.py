"""A queue with SQS semantics on SQLite (WAL), shared by any number of processes.

A queue is two files, and each has one kind of writer, so that senders never wait for
consumers:

- the inbox (``path``): what senders append, one row per message with its body. Only senders
  write it: they append, and in the same short transactions they delete the rows consumers
  are done with and truncate its WAL. Consumers only read it;
- the state (``<stem>-state.db`` beside it): what consumers know about messages they have
  adopted: visibility, receive count, DLQ membership, the last inbox id adopted, and the body
  of every message kept longer than one receive (redelivered, delayed, in the DLQ). Only
  consumers (and redrive) write it; senders read one number from it.

A receive first redelivers adopted messages whose visibility ran out, then adopts the next
inbox messages in id order. A delete removes the state row. The inbox rows below the
*watermark* (the lowest id whose body only the inbox holds, or the next id to adopt) can never
be delivered again: consumers raise it in the state as they delete, and a sender deletes the
rows below it, a few thousand per transaction, at most every ``_UPKEEP_S``.
What it keeps of SQS: batch send/receive/delete, long-poll receive,
per-message visibility timeout and receive count, the move to the DLQ on the receive after
``max_receive_count`` receives, delay, approximate counts, redrive. Receive walks indexes, so
it costs the same with a backlog of a million as with ten.

Timers (visibility, delay) run on the boot clock (``votectl.local.boottime``), never on the
wall clock: a wall-clock step in either direction changes no message's visibility. The state
records the boot it was written on; a consumer that opens it on another boot makes every
hidden message visible (their consumers died with the boot). The wall clock only fills the
informational ``SentTimestamp`` and ``ApproximateFirstReceiveTimestamp``.

A committed send survives ``kill -9`` of every process (see ``votectl.local.db.connect``).

The two files know each other: the inbox holds a random identity made when it was created, and
the state records the identity of the inbox it adopts from. Opening the state with another
inbox (recreated, or restored from elsewhere), or with an inbox whose ids stop below the state's
cursor (restored from an older copy), raises ``MismatchedFiles``: adopting from it would skip
its messages. A sender checks the same two things before it deletes anything.
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
from votectl.local.boottime import boot_id, boot_ms
from votectl.local.db import Transaction, connect, truncate_wal
from votectl.local.layout import state_db
from votectl.model import QueueStat

__all__ = ["MismatchedFiles", "Message", "SqliteQueue", "StaleDataDir"]

log = logging.getLogger("votectl.queue")

# AUTOINCREMENT: inbox ids are never reused, so the adoption cursor only moves forward.
# visible_at: 0 for a message sent without delay; else the boot clock's ms when it shows.
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
# visible_at: boot clock ms. body: NULL while the inbox holds it (first receive), the body
# once the message is kept longer (redelivered, delayed, DLQ).
_STATE = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    body TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS adopted (queue TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox_identity (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT);
CREATE TABLE IF NOT EXISTS boot (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS watermark (queue TEXT PRIMARY KEY, below INTEGER NOT NULL);
"""
_SEND = "INSERT INTO inbox (sent_at, visible_at, body) SELECT ?1, ?2, value FROM json_each(?3)"
_IDS = "SELECT value FROM json_each(?)"
# The lowest inbox id a consumer may still need, the identity of the inbox the state adopts
# from, in one snapshot of the state.
# The watermark, raised by consumers: no inbox row below it can be delivered again (the lowest
# id whose body only the inbox holds, or the next id to adopt). It only rises: ids are adopted
# above the cursor, and a body once kept in the state stays there. So each consumer's
# transaction walks on from the last value, past the kept bodies, at most once each.
_RAISE = """
INSERT OR REPLACE INTO watermark (queue, below)
SELECT ?1, coalesce(
    (SELECT id FROM messages WHERE id >= w.below AND id <= a.last_id AND body IS NULL
     ORDER BY id LIMIT 1),
    a.last_id + 1)
FROM (SELECT coalesce((SELECT below FROM watermark WHERE queue = ?1), 0) AS below) AS w,
     (SELECT coalesce((SELECT last_id FROM adopted WHERE queue = ?1), 0) AS last_id) AS a
"""
# What a sender reads: the watermark and the identity of the inbox the state adopts from.
_WATERMARK = """
SELECT (SELECT below FROM watermark WHERE queue = ?1), (SELECT id FROM inbox_identity)
"""
# Rows below the watermark, at most _RECLAIM_ROWS of them; nothing if the state's cursor is
# beyond this inbox's last id (an inbox restored from an older copy: see MismatchedFiles).
_RECLAIM = """
DELETE FROM inbox WHERE id < min(?1, (SELECT min(id) FROM inbox) + ?2)
AND ?1 - 1 <= coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'inbox'), 0)
"""
_encode = msgspec.json.encode


def _json(value: object) -> str:
    """JSON text (str: SQLite would take bytes for a BLOB, which newer versions read as JSONB)."""
    return _encode(value).decode()


_UPKEEP_S = 0.05  # a sender reclaims rows and checks the WAL's size at most this often
_RECLAIM_ROWS = 4096  # inbox rows a sender deletes per transaction, at most
_WAL_BYTES = 4 * 1024 * 1024  # an inbox WAL past this size: truncated at the next upkeep
_READERS_S = 0.002  # how long a truncation waits for readers to leave the WAL
_IDLE_S = 1.0  # an idle consumer truncates the state's WAL at most this often
_MAX_DELAY_MS = 15 * 60 * 1000  # SQS's longest delay: a later visible_at is another boot's


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


def _wall_ms() -> int:
    """The wall clock, for the record's timestamps only: never for a timer."""
    return int(time.time() * 1000)


_md5 = hashlib.md5


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
        body = self.body
        return {
            "messageId": self.message_id,
            "receiptHandle": self.receipt_handle,
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": str(self.receive_count),
                "SentTimestamp": str(self.sent_at),
                "SenderId": "votectl-local",
                "ApproximateFirstReceiveTimestamp": str(self.first_received_at),
            },
            "messageAttributes": {},
            "md5OfBody": _md5(body.encode()).hexdigest(),
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
        """``lock_wait``: seconds a send waits for another sender's lock on the inbox; 0
        raises ``Locked`` at once (the gateway's event loop retries later instead of blocking).
        Consumers never take that lock. ``checkpoints=False``: no checkpoint after each
        commit; the WAL is still checkpointed and truncated by the sends' upkeep, every few
        MiB. The state file, opened on first use, is written only by consumers.
        ``read_only``: for ``stats`` on a data dir that cannot be written."""
        self.path = Path(path)
        self.state_path = state_db(self.path)
        self.name = name
        self.dlq_name = f"{name}-dlq"
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.arn = f"arn:aws:sqs:local:000000000000:{name}"
        self._read_only = read_only
        self._lock_wait = lock_wait
        self._inbox = connect(self.path, "", lock_wait, read_only)
        if not checkpoints:
            self._inbox.execute("PRAGMA wal_autocheckpoint = 0")
        if self._read_identity() is None and not read_only:
            self._inbox.executescript(_INBOX)  # a write, so only for a new file
        earlier = "SELECT 1 FROM sqlite_master WHERE name IN ('bodies', 'messages')"
        if self._inbox.execute(earlier).fetchone():
            self._inbox.close()
            raise StaleDataDir(f"{self.path} was written by an earlier votectl")
        self._identity = self._read_identity()
        self._wal = Path(f"{self.path}-wal")
        self._state_con: sqlite3.Connection | None = None
        self._watermark_con: sqlite3.Connection | None = None
        self._upkeep_at = 0.0  # monotonic seconds: the next send's upkeep is due
        self._idle_at = 0.0

    def _read_identity(self) -> str | None:
        try:
            row = self._inbox.execute("SELECT id FROM identity").fetchone()
        except sqlite3.OperationalError:  # no such table: a new file
            return None
        return None if row is None else str(row[0])

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
        if self._upkeep_at:  # this queue sent: leave no garbage it can delete now
            with contextlib.suppress(sqlite3.Error):
                self.reclaim()
        for con in (self._state_con, self._watermark_con):
            if con is not None:
                con.close()
        self._inbox.close()

    @property
    def _state(self) -> sqlite3.Connection:
        if self._state_con is None:
            con = connect(self.state_path, read_only=self._read_only)
            columns = {row[1] for row in con.execute("PRAGMA table_info(messages)")}
            if columns and "receipt" not in columns:
                con.close()
                raise StaleDataDir(f"{self.state_path} was written by an earlier votectl")
            try:
                if not self._read_only:
                    con.executescript(_STATE)
                    if columns and "body" not in columns:  # from before bodies were kept
                        con.execute("ALTER TABLE messages ADD COLUMN body TEXT")
                self._check_belongs(con)
            except BaseException:
                con.close()
                raise
            self._state_con = con
        return self._state_con

    def _check_belongs(self, state: sqlite3.Connection) -> None:
        """Raise MismatchedFiles unless the inbox is the one this state adopted from; on a
        new boot, make the messages hidden on the last one visible."""
        inbox_id = self._identity
        with contextlib.nullcontext() if self._read_only else Transaction(state):
            row = state.execute("SELECT id FROM inbox_identity").fetchone()
            if row is None and not self._read_only:  # new, or from before identities: adopt
                state.execute("INSERT INTO inbox_identity VALUES (1, ?)", (inbox_id,))
            cursor = state.execute("SELECT coalesce(max(last_id), 0) FROM adopted").fetchone()[0]
            if not self._read_only:
                self._check_boot(state)
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

    def _check_boot(self, state: sqlite3.Connection) -> None:
        """In the state's transaction: if the state's timers ran on another boot's clock (or
        on the wall clock, before boot ids), every hidden message is visible now."""
        this = boot_id()
        row = state.execute("SELECT id FROM boot").fetchone()
        if row is not None and row[0] == this:
            return
        now = boot_ms()
        shown = state.execute(
            "UPDATE messages SET visible_at = ? WHERE visible_at > ?", (now, now)
        ).rowcount
        state.execute("INSERT OR REPLACE INTO boot VALUES (1, ?)", (this,))
        if row is not None and shown:
            log.warning("%s: a new boot: %d hidden message(s) visible again", self.name, shown)

    # --- sending ----------------------------------------------------------------------

    def send(self, bodies: Sequence[bytes | str], delay_seconds: float = 0) -> None:
        """Append ``bodies`` in one transaction; returns once they are committed.

        Every ``_UPKEEP_S`` at most, the same transaction also deletes inbox rows consumers
        are done with, and after it the WAL is truncated if it grew past ``_WAL_BYTES``.
        Raises ``Locked`` if another sender holds the lock longer than ``lock_wait``.
        """
        texts = [b if isinstance(b, str) else b.decode() for b in bodies]
        if any("\x00" in t for t in texts):  # SQS refuses it too; json_each would cut there
            raise ValueError("a message body contains a NUL character")
        visible = boot_ms() + int(delay_seconds * 1000) if delay_seconds > 0 else 0
        upkeep = time.monotonic() >= self._upkeep_at
        watermark = self._watermark() if upkeep else 0
        with Transaction(self._inbox) as con:
            if watermark > 1:
                con.execute(_RECLAIM, (watermark, _RECLAIM_ROWS))
            con.execute(_SEND, (_wall_ms(), visible, _json(texts)))
        if upkeep:
            self._upkeep_at = time.monotonic() + _UPKEEP_S
            self._truncate_if_large()

    def reclaim(self) -> int:
        """Delete inbox rows consumers are done with (a sender's upkeep; ``send`` does it
        on its own): returns how many."""
        watermark = self._watermark()
        if watermark <= 1:
            return 0
        with Transaction(self._inbox) as con:
            deleted = con.execute(_RECLAIM, (watermark, 1 << 62)).rowcount
        self._truncate_if_large()
        return int(deleted)

    def _watermark(self) -> int:
        """The lowest inbox id a consumer may still need (1: none known, delete nothing).
        Read without waiting: a consumer stopped mid-transaction costs a skipped reclaim."""
        if self._watermark_con is None:
            if not self.state_path.exists():
                return 1
            self._watermark_con = connect(self.state_path, lock_wait=0)
        try:
            row = self._watermark_con.execute(_WATERMARK, (self.name,)).fetchone()
        except sqlite3.OperationalError:  # not created yet; or busy: next time
            return 1
        watermark, identity = row
        return int(watermark or 1) if identity == self._identity else 1

    def _truncate_if_large(self) -> None:
        try:
            large = self._wal.stat().st_size > _WAL_BYTES
        except OSError:
            return
        # A reader on the WAL (a consumer mid-read, or stopped there) fails it: the next
        # upkeep tries again. Not every send: each try holds the inbox's lock up to
        # _READERS_S, which a stopped consumer would otherwise add to every commit (0.6-0.7x the
        # votes/s with the processor stopped mid-read, benchmarks/send_wait.py).
        if large:
            try:
                truncate_wal(self._inbox, self._lock_wait, _READERS_S)
            except sqlite3.DatabaseError as exc:  # after the commit: the send has succeeded
                log.warning(
                    "%s: cannot truncate %s (%s); retrying later", self.name, self._wal, exc
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
            self._idle()
            time.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    def _idle(self) -> None:
        """Nothing to receive: now and then truncate the state's WAL (consumers own it)."""
        now = time.monotonic()
        if now >= self._idle_at:
            self._idle_at = now + _IDLE_S
            truncate_wal(self._state, 30.0)

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
        now = boot_ms()
        # Checked without the write lock: an idle poll never blocks another consumer.
        visible = "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1"
        if state.execute(visible, (self.name, now)).fetchone() is None:
            last = self._last_adopted()
            if self._inbox.execute("SELECT 1 FROM inbox WHERE id > ?", (last,)).fetchone() is None:
                return []
        wall = _wall_ms()
        with Transaction(state):
            now = boot_ms()
            rows = state.execute(
                "SELECT id, sent_at, receive_count, first_received_at, receipt, body "
                "FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            bodies = self._keep_bodies([r[0] for r in rows if r[5] is None])
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
                [(now + vt, wall, r[0]) for r in live],
            )
            room = max_messages - len(rows)
            fresh = self._adopt(room, now, vt, wall) if room > 0 else []
            if bodies:  # kept now: the rows below may go
                state.execute(_RAISE, (self.name,))
        name = self.name
        messages = [
            Message(f"{name}-{i}", f"{i}.1", body, sent, 1, wall) for i, sent, body in fresh
        ]
        messages += [
            Message(f"{name}-{i}", f"{i}.{g + 1}", body or bodies[i], sent, n + 1, first or wall)
            for i, sent, n, first, g, body in live
            if body is not None or i in bodies
        ]
        return messages

    def _keep_bodies(self, ids: list[int]) -> dict[int, str]:
        """In the state's transaction: copy the bodies of ``ids`` (kept longer than their first
        receive) from the inbox into the state, so that senders may delete the inbox rows.
        Returns them by id; forgets state rows whose body is gone."""
        if not ids:
            return {}
        bodies: dict[int, str] = dict(
            self._inbox.execute(
                f"SELECT id, body FROM inbox WHERE id IN ({_IDS})", (_json(ids),)
            ).fetchall()
        )
        self._state.executemany(
            "UPDATE messages SET body = ? WHERE id = ?", [(b, i) for i, b in bodies.items()]
        )
        lost = [i for i in ids if i not in bodies]
        if lost:  # only an OS crash between the two files' commits leaves a row bodiless
            log.warning(
                "%s: %d message(s) without a body dropped: %s", self.name, len(lost), lost[:10]
            )
            self._state.execute(f"DELETE FROM messages WHERE id IN ({_IDS})", (_json(lost),))
        return bodies

    def _adopt(self, room: int, now: int, vt: int, wall: int) -> list[tuple[int, int, str]]:
        """Take the next ``room`` inbox messages into the state (in its transaction): the
        visible ones as received now (first received at ``wall``, the stamp the caller hands
        out), the delayed ones as waiting, with their bodies. Returns (id, sent_at, body) of
        the received."""
        new = self._inbox.execute(
            "SELECT id, sent_at, visible_at, body FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
            (self._last_adopted(), room),
        ).fetchall()
        if not new:
            return []
        late = now + _MAX_DELAY_MS  # beyond: stamped on another boot's clock, visible now
        fresh = [
            (i, sent, body) for i, sent, visible, body in new if visible <= now or visible > late
        ]
        self._state.execute(
            "INSERT INTO messages (id, queue, sent_at, visible_at, receive_count, receipt, "
            "first_received_at) SELECT value ->> 0, ?1, value ->> 1, ?2, 1, 1, ?3 "
            "FROM json_each(?4)",
            (self.name, now + vt, wall, _json([(i, sent) for i, sent, _ in fresh])),
        )
        if len(fresh) < len(new):
            self._state.executemany(
                "INSERT INTO messages (id, queue, sent_at, visible_at, body) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (i, self.name, sent, visible, body)
                    for i, sent, visible, body in new
                    if now < visible <= late
                ],
            )
        self._state.execute(
            "INSERT OR REPLACE INTO adopted (queue, last_id) VALUES (?, ?)", (self.name, new[-1][0])
        )
        return fresh

    def delete(self, receipt_handles: Sequence[str]) -> int:
        """Delete received messages. A stale handle (the message was received again since, or
        moved to the DLQ) deletes nothing, so a slow consumer cannot delete another's delivery.
        A receipt counts every receive and is never reset, so no handle is ever issued twice.
        The inbox rows are left to the senders (see ``reclaim``)."""
        by_receipt: dict[int, list[int]] = {}
        for message, receipt in _parse(receipt_handles):
            by_receipt.setdefault(receipt, []).append(message)
        match = f"id IN ({_IDS}) AND receipt = ? AND receipt > 0 AND queue = ?"
        deleted = 0
        with Transaction(self._state) as state:
            for receipt, ids in by_receipt.items():  # one statement per receipt: usually one
                args = (_json(ids), receipt, self.name)
                deleted += state.execute(f"DELETE FROM messages WHERE {match}", args).rowcount
            if deleted:
                state.execute(_RAISE, (self.name,))
        return deleted

    def change_visibility(self, receipt_handles: Sequence[str], timeout: float) -> None:
        visible = boot_ms() + int(timeout * 1000)
        rows = [(visible, i, receipt, self.name) for i, receipt in _parse(receipt_handles)]
        with Transaction(self._state) as state:
            state.executemany(
                "UPDATE messages SET visible_at = ? "
                "WHERE id = ? AND receipt = ? AND receipt > 0 AND queue = ?",
                rows,
            )

    # --- operating --------------------------------------------------------------------

    def stats(self) -> list[QueueStat]:
        now = boot_ms()
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
            "SELECT count(*), count(CASE WHEN visible_at > ?1 AND visible_at <= ?2 THEN 1 END) "
            "FROM inbox WHERE id > ?3",
            (now, now + _MAX_DELAY_MS, last),
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
            "SELECT id, sent_at, receive_count, body FROM messages WHERE queue = ? "
            "ORDER BY id LIMIT ?",
            (queue, count),
        ).fetchall()
        if not dlq and len(rows) < count:  # sent, not yet adopted by a consumer
            rows += self._inbox.execute(
                "SELECT id, sent_at, 0, NULL FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
                (self._last_adopted(), count - len(rows)),
            ).fetchall()
        bodies = dict(
            self._inbox.execute(
                f"SELECT id, body FROM inbox WHERE id IN ({_IDS})",
                (_json([r[0] for r in rows if r[3] is None]),),
            ).fetchall()
        )
        return [
            (f"{self.name}-{i}", kept if kept is not None else bodies.get(i, ""), sent, n)
            for i, sent, n, kept in rows
        ]

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
                (self.name, boot_ms(), self.dlq_name),
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
