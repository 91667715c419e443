"""What `votectl status` shows for the local stage: whether a `votectl up` runs on the data dir
(its lock says so), its URL and processes from up.json, the queues and the table."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from votectl.local.layout import Layout
from votectl.model import QueueStat, TableCount

__all__ = ["Child", "LocalStatus", "read_status"]


@dataclass(frozen=True)
class Child:
    name: str  # gateway-0, ..., processor, writer
    pid: int
    alive: bool


@dataclass(frozen=True)
class LocalStatus:
    data_dir: str
    running: bool
    url: str | None = None
    pid: int | None = None  # the supervisor's
    children: list[Child] = field(default_factory=list)
    restarts: int | None = None  # children restarted since `votectl up` started
    queues: list[QueueStat] = field(default_factory=list)
    table: TableCount | None = None  # None: no pipeline ever ran in the data dir

    def to_json(self) -> dict[str, Any]:
        return {"stage": "local", **asdict(self)}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie (dead, not yet reaped) does not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc here: fall back on a signal probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state != "Z"


def read_status(layout: Layout, queues: list[QueueStat], table: TableCount | None) -> LocalStatus:
    """The status of ``layout``'s data dir, given its queue stats and table count."""
    info = layout.up_info()  # first: up.json is written only once the lock is held
    if info is None or not layout.is_running():
        return LocalStatus(str(layout.root), running=False, queues=queues, table=table)
    processes = info.get("processes", {})
    return LocalStatus(
        data_dir=str(layout.root),
        running=True,
        url=info.get("url"),
        pid=info.get("pid"),
        children=[Child(name, int(pid), alive(int(pid))) for name, pid in processes.items()],
        restarts=info.get("restarts"),
        queues=queues,
        table=table,
    )
