"""The local target's side of `votectl canary`: POST to the running `votectl up`, read and
delete one vote in the data dir's SQLite table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from votectl.errors import NotRunning
from votectl.local.db import naming
from votectl.local.layout import Layout
from votectl.local.table import SqliteVoteTable
from votectl.probe import Sent, Stored, post_votes

__all__ = ["LocalProbe"]

T = TypeVar("T")


class LocalProbe:
    via = "http"
    default_write_path = "local"

    def __init__(self, layout: Layout, token: str | None) -> None:
        url = layout.require().running_url()
        if url is None:
            raise NotRunning(f"no `votectl up` serves {layout.root}: the canary has no front door")
        self.door = url
        self.notes: list[str] = []
        self._layout = layout
        self._token = token

    def send(self, body: bytes, user_id: str) -> Sent:
        return post_votes(self.door, body, self._token)

    def read(self, user_id: str, title_id: str, aspect: str) -> Stored | None:
        row = self._table(lambda t: t.get(user_id, title_id, aspect))
        return None if row is None else Stored(score=row[0], voted_at=str(row[1]), write_path=None)

    def delete(self, user_id: str, title_id: str, aspect: str) -> None:
        self._table(lambda t: t.delete(user_id, title_id, aspect))

    def _table(self, use: Callable[[SqliteVoteTable], T]) -> T:
        """``use`` on the table, opened read-write: an immutable (read-only) open would not
        see the running writer's commits."""
        with naming(self._layout.table_db):
            table = SqliteVoteTable(self._layout.table_db)
            try:
                return use(table)
            finally:
                table.close()
