"""Processor: SQS batch of votes -> verify, sanitise, keep the latest per identity -> ready queue.

Records that can never be valid are logged as rejected and dropped, not retried. If the ready
queue cannot be reached, every record that contributed votes is reported in
``batchItemFailures`` and comes back after its visibility timeout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lambdas.batch import failures, votes_of
from lambdas.contract import latest_per_identity, pack
from lambdas.ports import MessageQueue, QueueUnavailable

__all__ = ["handler", "make_handler"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(ready: MessageQueue) -> Handler:
    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        votes = []
        contributors = []
        for message_id, record_votes in votes_of(event.get("Records", []), "processor"):
            votes.extend(record_votes)
            contributors.append(message_id)
        if not votes:
            return failures([])
        try:
            latest = [vote for vote, _ in latest_per_identity((v, None) for v in votes)]
            ready.send(pack(latest, max_bytes=ready.max_message_bytes))
        except QueueUnavailable:
            return failures(contributors)
        return failures([])

    return handle


_default: Handler | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: ready queue from READY_QUEUE_URL, built on first use."""
    global _default
    if _default is None:
        from lambdas.adapters import SqsQueue

        _default = make_handler(SqsQueue(os.environ["READY_QUEUE_URL"]))
    return _default(event, context)
