"""The local receiver's receipt clock: stamps that never go backwards within a data dir.

A hybrid logical clock: each stamp is max(wall clock, last stamp + 1 us), in whole
microseconds (the table's unit). The data dir's ``receipt-clock`` file, shared by the gateway
processes (``flock``, mapped in memory), holds the last stamp given by any of them and a
high-water mark ``LEASE_US`` ahead of it. The last stamp is not written to disk per vote: the
mark is, fsynced, only when a stamp passes it (about once a second under load). A process
starting (a restart after a crash, even of the machine) continues above the mark, so above
every stamp given before, whatever the wall clock did meanwhile. A step back of a second or more
is logged once. The receiver gets it through its clock port (lambdas/ports.py ``Clock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import struct
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from fcntl import LOCK_EX, LOCK_UN, flock
from pathlib import Path

__all__ = ["LEASE_US", "ReceiptClock"]

LEASE_US = 1_000_000  # the mark runs 1 s ahead: at most one small fsynced write a second
LOG_STEP_US = 1_000_000  # steps of a second or more are logged

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLOTS = struct.Struct("<qq")  # (mark, last stamp), microseconds since the epoch
log = logging.getLogger("votectl.stamps")


def wall_us() -> int:
    return time.time_ns() // 1000


class ReceiptClock:
    """``clock()`` -> an aware UTC datetime, later than every one given before in the data
    dir; ``wall`` (microseconds since the epoch) is injectable for tests. ``shared``: other
    processes stamp from the same file at the same time (``votectl up --workers`` over 1)."""

    def __init__(
        self,
        path: Path,
        wall: Callable[[], int] = wall_us,
        lease_us: int = LEASE_US,
        shared: bool = True,
    ) -> None:
        self.path = path
        self._shared = shared
        self._wall = wall
        self._lease_us = lease_us
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._locked():
            if os.fstat(self._fd).st_size < _SLOTS.size:
                os.ftruncate(self._fd, _SLOTS.size)
            self._map = mmap.mmap(self._fd, _SLOTS.size)
            mark, last = _SLOTS.unpack_from(self._map)
            if mark > last:  # a stamp up to the mark may have been given: start above it
                _SLOTS.pack_into(self._map, 0, mark, mark)
        self._stepped = False
        behind = mark - wall()
        if behind > lease_us + LOG_STEP_US:
            log.warning(
                "the wall clock is %.1f s behind this data dir's receipt stamps (a step back?);"
                " votes are stamped from the last stamp on, 1 us apart, until it catches up",
                behind / 1e6,
            )

    def __call__(self) -> datetime:
        us = self.now_us()
        return _EPOCH + timedelta(0, us // 1_000_000, us % 1_000_000)

    def now_us(self) -> int:
        wall = self._wall()
        fd, slots, shared = self._fd, self._map, self._shared
        if shared:
            flock(fd, LOCK_EX)  # inline, not self._locked(): this runs once per request
        try:
            mark, last = _SLOTS.unpack_from(slots)
            stamp = wall if wall > last else last + 1
            if stamp > mark:
                mark = stamp + self._lease_us
                _SLOTS.pack_into(slots, 0, mark, stamp)
                self._persist()  # the mark on disk before any stamp beyond the old one
            else:
                _SLOTS.pack_into(slots, 0, mark, stamp)
        finally:
            if shared:
                flock(fd, LOCK_UN)
        if wall > last:
            self._stepped = False
        elif last - wall >= LOG_STEP_US and not self._stepped:
            self._stepped = True
            log.warning(
                "the wall clock stepped %.1f s back; votes are stamped from the last stamp on,"
                " 1 us apart, until it catches up",
                (last - wall) / 1e6,
            )
        return stamp

    def _persist(self) -> None:
        self._map.flush()  # msync: written through to the file, as fsync would

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
