"""SQLite connections and transactions as the local target uses them, and the errors that
name the file they concern (a damaged file, a read-only data dir)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from votectl.errors import VotectlError

__all__ = [
    "DamagedFile",
    "Locked",
    "ReadOnlyDataDir",
    "Transaction",
    "check_intact",
    "connect",
    "truncate_wal",
    "naming",
    "writable",
]


class Locked(Exception):
    """Another connection held the write lock for longer than this connection waits."""


class DamagedFile(VotectlError):
    hint = (
        "restore the file from a copy; or move it (and its -wal, -shm) aside: `votectl up` "
        "makes a new one and what it held is lost (`sqlite3 FILE .recover` may salvage rows)"
    )


class ReadOnlyDataDir(VotectlError):
    hint = "reading works on a read-only data dir; to change it, make the dir writable"


def writable(directory: Path) -> bool:
    return os.access(directory, os.W_OK)


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """Turn SQLite's errors about a file into a ``DamagedFile`` or ``ReadOnlyDataDir`` naming
    it (a lock held too long stays ``sqlite3.OperationalError``: it is no fault of the file)."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            raise ReadOnlyDataDir(f"{path}: {text}") from None
        if "locked" in text or "busy" in text:
            raise
        raise DamagedFile(f"{path}: {text}") from None


def check_intact(path: Path) -> None:
    """Raise ``DamagedFile`` naming ``path`` unless SQLite's quick check finds it sound (it reads
    every page once: about a second per GB)."""
    with naming(path):
        con = sqlite3.connect(path, timeout=30.0)
        try:
            problems = [row[0] for row in con.execute("PRAGMA quick_check(5)")]
        finally:
            con.close()
    if problems != ["ok"]:
        raise DamagedFile(f"{path} is damaged: {'; '.join(problems)}")


def connect(
    path: Path | str, schema: str = "", lock_wait: float = 30.0, read_only: bool = False
) -> sqlite3.Connection:
    """Autocommit mode with WAL and synchronous=NORMAL; transactions are explicit.

    A commit is in the OS's page cache before it returns: it survives ``kill -9`` of every
    process, while an OS crash or power cut may lose the last commits. ``lock_wait`` is how long
    a transaction waits for another process's write lock (0: not at all, raise ``Locked``).
    ``read_only``: for a file in a dir this process cannot write (a read-only mount, a copy
    handed over for inspection): opened as immutable, since no one can be writing it through
    this dir, without a schema or pragmas.
    """
    if read_only:
        uri = f"file:{quote(str(Path(path).resolve()))}?immutable=1"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    con = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    # When a writer restarts the WAL from its start (after a complete checkpoint), it cuts
    # the file back to this size: a burst's WAL does not stay on disk.
    con.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    if schema:
        con.executescript(schema)
    con.execute(f"PRAGMA busy_timeout={int(lock_wait * 1000)}")
    return con


JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024


def truncate_wal(con: sqlite3.Connection, lock_wait: float, wait: float = 0.0) -> bool:
    """Checkpoint the whole WAL into the database and truncate it to zero bytes, waiting at
    most ``wait`` seconds: True if done, False if a writer or a reader still on the WAL was in
    the way.

    SQLite's TRUNCATE checkpoint (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html) holds
    the write lock while it waits for readers to leave the WAL, so it must not wait long: it
    runs from a connection that can get it now or tries again later. ``lock_wait`` (the
    connection's own busy timeout) is restored."""
    con.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    try:
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.OperationalError:  # locked or busy
        busy = 1
    finally:
        con.execute(f"PRAGMA busy_timeout={int(lock_wait * 1000)}")
    return not busy


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (takes the write lock up front)."""

    __slots__ = ("_con",)

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    def __enter__(self) -> sqlite3.Connection:
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise Locked(str(exc)) from None
            raise
        return self._con

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._con.execute("ROLLBACK" if exc_type else "COMMIT")
