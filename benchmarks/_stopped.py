"""Stopping a `votectl up` consumer at its worst moment: inside one of its own transactions
(shared by benchmarks/send_wait.py and tests/functional/test_storage_bounds.py)."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from votectl.local.db import Locked, Transaction, connect
from votectl.local.layout import Layout, state_db

__all__ = ["consumer_files", "holds_write_lock", "stop_inside_a_transaction"]


def consumer_files(data_dir: Path, stage: str) -> list[Path]:
    """The files ``stage`` (processor or writer) writes: its source queue's state file, and
    for the writer the table."""
    layout = Layout.of(data_dir)
    source = layout.votes_db if stage == "processor" else layout.ready_db
    state = state_db(source)
    return [state] if stage == "processor" else [state, layout.table_db]


def holds_write_lock(path: Path) -> bool:
    """Whether another connection holds ``path``'s write lock now (probed without waiting)."""
    probe = connect(path, lock_wait=0)
    try:
        with Transaction(probe):
            return False
    except Locked:
        return True
    finally:
        probe.close()


def stop_inside_a_transaction(
    pid: int, files: list[Path], rng: random.Random, tries: int = 2000
) -> None:
    """SIGSTOP ``pid`` at a moment it holds the write lock of one of ``files`` (a receive, a
    delete, its cleanup, a checkpoint, a table write); the process is left stopped."""
    for _ in range(tries):
        os.kill(pid, signal.SIGSTOP)
        if any(holds_write_lock(path) for path in files):
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(rng.uniform(0, 0.003))
    raise RuntimeError(f"process {pid} was never caught inside a transaction")
