"""A `votectl up` child that dies of an exception leaves its traceback in its own log."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from votectl.local.logfiles import child_main


def _fail(word: str) -> None:
    raise RuntimeError(f"the child failed: {word}")


def test_a_dying_childs_traceback_is_in_its_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "gateway-0.log"
    ctx = multiprocessing.get_context("spawn")  # as the supervisor starts its children
    child = ctx.Process(target=child_main, args=(str(log), _fail, "kiwi"))
    child.start()
    child.join(60)
    assert child.exitcode == 1
    text = log.read_text()
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: the child failed: kiwi" in text
