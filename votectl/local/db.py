"""SQLite connections and transactions as the local target uses them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["Transaction", "connect"]


def connect(path: Path | str, timeout: float = 30.0) -> sqlite3.Connection:
    """Autocommit mode with WAL and synchronous=NORMAL; transactions are explicit.

    A commit is in the OS's page cache before it returns: it survives ``kill -9`` of every
    process, while an OS crash or power cut may lose the last commits.
    """
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    return con


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (takes the write lock up front)."""

    __slots__ = ("_con",)

    def __init__(self, con: sqlite3.Connection) -> None:
        self._con = con

    def __enter__(self) -> sqlite3.Connection:
        self._con.execute("BEGIN IMMEDIATE")
        return self._con

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._con.execute("ROLLBACK" if exc_type else "COMMIT")
