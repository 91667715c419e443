"""Signals between the supervisor and its children that a ``kill -9`` cannot wedge.

``multiprocessing.Event`` and a locked ``Value`` take a lock shared by every process: a child
killed while holding it (inside ``stop.wait()``, say) leaves it held for good, and the next
``set()`` or read in the supervisor blocks forever. These are plain shared memory: each word has
one writer, and readers poll.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["Counters", "Flag"]

_POLL_SECONDS = 0.02


class Flag:
    """A one-way switch: ``set`` by one process, seen by any (an Event without a lock)."""

    def __init__(self, ctx: Any) -> None:
        self._value = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early once set; returns ``is_set()``."""
        deadline = time.monotonic() + timeout
        while not self._value.value:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(_POLL_SECONDS, left))
        return True


class Counters:
    """Counts summed over slots; each slot written by one process only, so no lock."""

    def __init__(self, ctx: Any, slots: int) -> None:
        self._array = ctx.RawArray("q", slots)

    def add(self, slot: int, n: int) -> None:
        self._array[slot] += n

    def set(self, slot: int, n: int) -> None:
        self._array[slot] = n

    def total(self) -> int:
        return sum(self._array)
