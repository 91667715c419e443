"""Where the local target keeps its files inside a data dir."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from votectl.errors import NotRunning

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def of(cls, data_dir: str | Path) -> Layout:
        return cls(Path(data_dir))

    @property
    def votes_db(self) -> Path:
        return self.root / "votes-queue.db"

    @property
    def ready_db(self) -> Path:
        return self.root / "ready-queue.db"

    @property
    def table_db(self) -> Path:
        return self.root / "votes-table.db"

    def files(self) -> list[Path]:
        """The SQLite files of the data dir: each queue's inbox and state, and the table."""
        queues = [self.votes_db, self.ready_db]
        states = [q.with_name(f"{q.stem}-state.db") for q in queues]
        return [*queues, *states, self.table_db]

    @property
    def up_file(self) -> Path:
        """Written by a running `votectl up`: {"url", "pid"}; removed when it stops."""
        return self.root / "up.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "up.lock"

    def require(self) -> Layout:
        """This layout, if a pipeline ever ran here; NotRunning otherwise."""
        if not self.table_db.exists():
            raise NotRunning(f"no local pipeline data in {self.root}")
        return self

    def running_url(self) -> str | None:
        """The endpoint of the `votectl up` serving this data dir, if one is running."""
        try:
            info = json.loads(self.up_file.read_text())
        except (OSError, ValueError):
            return None
        try:
            os.kill(int(info["pid"]), 0)
        except (OSError, KeyError, ValueError, TypeError):
            return None
        return str(info["url"])
