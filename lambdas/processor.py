"""Processor: SQS batch of votes -> verify, sanitise, keep the latest per identity -> ready queue.

Records that can never be valid are logged as rejected and dropped, not retried. If the ready
queue cannot be reached, every record that contributed votes is reported in
``batchItemFailures`` and comes back after its visibility timeout. Ready messages hold at most
``envelope.VOTES_PER_READY_MESSAGE`` votes and name the request ids of their votes.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from lambdas.batch import Count, emf_count, failures, messages_of
from lambdas.contract import Vote, latest_per_identity
from lambdas.envelope import pack_ready
from lambdas.log import function_logger, log_batch, log_fields
from lambdas.ports import Handler, MessageQueue, QueueUnavailable, built_at_init

__all__ = ["handler", "make_handler"]

log = function_logger("processor")


def make_handler(ready: MessageQueue, count: Count | None = None) -> Handler:
    """``count(stage, n)`` is told how many votes were rejected (the local runtime's counter,
    or a CloudWatch metric on Lambda)."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        tagged: list[tuple[Vote, list[str]]] = []
        contributors = []
        for message_id, message in messages_of(event.get("Records", []), "processor", count):
            ids = message.correlation_ids
            tagged.extend((vote, ids) for vote in message.votes)
            contributors.append(message_id)
        if not tagged:
            return failures([])
        latest = latest_per_identity(tagged)
        try:
            ready.send(pack_ready(latest, ready.max_message_bytes))
        except QueueUnavailable as exc:
            request_id = getattr(context, "aws_request_id", None)
            fields = log_fields(error=str(exc), request_id=request_id)
            log.warning("ready queue unavailable, batch returns", extra=fields)
            return failures(contributors)
        if log.isEnabledFor(logging.INFO):
            ids = list(dict.fromkeys(i for _, vote_ids in latest for i in vote_ids))
            log_batch(
                log,
                "batch forwarded",
                ids,
                request_id=getattr(context, "aws_request_id", None),
                messages=len(contributors),
                votes_in=len(tagged),
                votes_out=len(latest),
            )
        return failures([])

    return handle


def _build() -> Handler:
    from lambdas.adapters import SqsQueue

    return make_handler(SqsQueue(os.environ["READY_QUEUE_URL"]), emf_count)


handler = built_at_init(_build, "READY_QUEUE_URL")
"""The Lambda entry point: the SQS queue named by READY_QUEUE_URL."""
