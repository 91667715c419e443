"""SQLite connections and transactions as the local target uses them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["Locked", "Transaction", "connect"]


class Locked(Exception):
    """Another connection held the write lock for longer than this connection waits."""


def connect(path: Path | str, schema: str = "", lock_wait: float = 30.0) -> sqlite3.Connection:
    """Autocommit mode with WAL and synchronous=NORMAL; transactions are explicit.

    A commit is in the OS's page cache before it returns: it survives ``kill -9`` of every
    process, while an OS crash or power cut may lose the last commits. ``lock_wait`` is how long
    a transaction waits for another process's write lock (0: not at all, raise ``Locked``).
    """
    con = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    if schema:
        con.executescript(schema)
    con.execute(f"PRAGMA busy_timeout={int(lock_wait * 1000)}")
    return con


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
