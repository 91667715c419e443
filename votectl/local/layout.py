"""Where the local target keeps its files inside a data dir."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from votectl.errors import AlreadyRunning, NotRunning, make_dir

__all__ = ["Layout", "state_db"]


def state_db(inbox: Path) -> Path:
    """A queue's state file, beside its inbox: what its consumers write (votectl/local/queue.py)."""
    return inbox.with_name(f"{inbox.stem}-state.db")


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
        return [*queues, *map(state_db, queues), self.table_db]

    @property
    def up_file(self) -> Path:
        """Written by a running `votectl up`: {"url", "pid"}; removed when it stops."""
        return self.root / "up.json"

    @property
    def status_file(self) -> Path:
        """Written by a running `votectl up` each second: {"accepted": running total, "at"}."""
        return self.root / "up-status.json"

    @property
    def logs_dir(self) -> Path:
        """Each `votectl up` child's output: <child>.log, rotated (see local/logfiles.py)."""
        return self.root / "logs"

    @property
    def clock_file(self) -> Path:
        """The receipt clock's high-water mark (see local/stamps.py); kept across runs."""
        return self.root / "receipt-clock"

    @property
    def lock_file(self) -> Path:
        """What the owner of the data dir holds ``flock`` on for the life of `votectl up`: the
        data dir itself, which no one can unlink while it holds files (a lock on a file such as
        the old ``up.lock`` let a second `up` in once the file was deleted)."""
        return self.root

    def lock(self, exclusive: bool = True) -> int | None:
        """A descriptor of the data dir holding its ``flock`` (exclusive, or shared for a
        probe), or None if another process holds it; OSError if the dir cannot be opened."""
        fd = os.open(self.lock_file, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def require(self) -> Layout:
        """This layout, if a pipeline ever ran here; NotRunning otherwise."""
        if not self.table_db.exists():
            raise NotRunning(f"no local pipeline data in {self.root}")
        return self

    def is_running(self) -> bool:
        """Whether a `votectl up` holds the data dir's lock: the lock, not a pid, is the truth
        (a dead supervisor, zombie or not, holds no lock; a pid may be reused). The probe takes
        a shared lock for an instant, so a `votectl up` starting in that instant is refused;
        rare."""
        try:
            fd = self.lock(exclusive=False)
        except OSError:
            return False
        if fd is None:
            return True
        os.close(fd)  # closing releases the probe's shared lock
        return False

    def up_info(self) -> dict[str, Any] | None:
        """What up.json says ({"url", "pid", "processes", ...}), running or not; None if absent."""
        try:
            info = json.loads(self.up_file.read_text())
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def create(self) -> Layout:
        """Make the data dir (and its parents); a usage error naming it if it cannot be one
        (a file, a read-only place)."""
        make_dir(self.root, f"cannot use {self.root} as the data dir", "--data-dir")
        return self

    def taken(self) -> AlreadyRunning:
        """The error for a second `votectl up` on this data dir: which one holds it, and how
        to stop it."""
        info = self.up_info() or {}
        who = ", ".join(str(info[k]) for k in ("pid", "url") if k in info)
        return AlreadyRunning(
            f"another `votectl up`{f' ({who})' if who else ''} is using {self.root}",
            hint=f"`votectl down --data-dir {self.root}` stops it (or Ctrl-C where it runs);"
            " or pass another --data-dir",
        )

    def running_url(self) -> str | None:
        """The endpoint of the `votectl up` serving this data dir, if one is running."""
        info = self.up_info()
        if info is None or "url" not in info or not self.is_running():
            return None
        return str(info["url"])
