"""The local pollers hand the handlers a Lambda-like context with a deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from votectl.local.poller import Poller, PollerSpec, build_poller
from votectl.local.queue import SqliteQueue


def test_handlers_get_a_context_with_the_visibility_timeout_as_deadline(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", "q")
    queue.send([b'{"votes": []}'])
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context)
        return {"batchItemFailures": []}

    assert Poller(queue, handler, budget=30.0).poll_once(0).deleted == 1
    [context] = seen
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.aws_request_id
    spec = PollerSpec("writer", str(tmp_path), 180.0, 3)
    assert build_poller(spec).budget == 180.0  # done before the messages reappear
