"""A child of `votectl up` stops serving once its supervisor is gone (kill -9 of the supervisor
alone must not leave a gateway or poller running as an orphan).

``multiprocessing`` hands a spawned child a sentinel on a pipe whose other end the parent holds
open: it turns readable when the parent exits, however early. Comparing ``os.getppid()`` with
its value at the child's start does not do: a supervisor killed while the child was still
starting has already made the child an orphan by then, and the comparison never fires.
"""

from __future__ import annotations

import multiprocessing

__all__ = ["supervisor_alive"]


def supervisor_alive() -> bool:
    """Does the process that spawned this one still run? (True outside a spawned child.)"""
    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()
