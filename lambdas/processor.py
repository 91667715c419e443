"""Processor: SQS batch of votes -> verify, sanitise, keep the latest per identity -> ready queue.

Records that can never be valid are logged as rejected and dropped, not retried. If the ready
queue cannot be reached, every record that contributed votes is reported in
``batchItemFailures`` and comes back after its visibility timeout.
"""

from __future__ import annotations

import os
from typing import Any

from lambdas.batch import Count, emf_count, failures, votes_of
from lambdas.contract import latest_per_identity, pack
from lambdas.ports import Handler, MessageQueue, QueueUnavailable, built_on_first_call

__all__ = ["handler", "make_handler"]


def make_handler(ready: MessageQueue, count: Count | None = None) -> Handler:
    """``count(stage, n)`` is told how many votes were rejected (the local runtime's counter,
    or a CloudWatch metric on Lambda)."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        votes = []
        contributors = []
        for message_id, record_votes in votes_of(event.get("Records", []), "processor", count):
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


def _build() -> Handler:
    from lambdas.adapters import SqsQueue

    return make_handler(SqsQueue(os.environ["READY_QUEUE_URL"]), emf_count)


handler = built_on_first_call(_build)
"""The Lambda entry point: the SQS queue named by READY_QUEUE_URL."""
