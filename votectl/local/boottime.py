"""The clock the local queues' timers run on: time since boot, shared by every process of
the boot and blind to wall-clock steps; and the boot's identity, so that a reboot (which
restarts that clock) can be told apart from time passing."""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["boot_id", "boot_ms"]

# CLOCK_BOOTTIME (Linux) counts a suspend as time passing, as a visibility timeout should;
# elsewhere CLOCK_MONOTONIC, also one clock for every process of the boot.
_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_ms() -> int:
    """Milliseconds since boot: never steps, whatever the wall clock does."""
    return int(time.clock_gettime(_CLOCK) * 1000)


def boot_id() -> str:
    """This boot's identity (Linux's random boot id). Where the OS gives none: the wall time
    the boot clock started at, to the minute (a wall-clock step of more than half a minute
    then reads as a reboot: in-flight messages come back early, none is lost)."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return f"boot@{round((time.time() - time.clock_gettime(_CLOCK)) / 60)}"
