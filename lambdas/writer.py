"""Writer: SQS batch of ready messages -> idempotent last-writer-wins upsert into the table.

It finishes what it takes: it writes slice after slice while the deadline (Lambda's remaining
time less a margin) allows the next one at the rate measured so far, and hands back the
messages it did not start in ``batchItemFailures``. The table adapter retries throttled writes
with jittered backoff; the votes still failing after that are re-queued alone, in a new ready
message one ``attempt`` further, and their message is acknowledged. A message already
re-queued ``max_attempts`` times is returned whole instead, so a vote that always fails ends
in the DLQ by SQS's receive count instead of looping. A re-queued vote comes back after a
delay that grows with its attempt (jittered; lambdas/retry.py), so under sustained throttling
its attempts do not come back to back. Re-writing stored votes changes nothing, so
at-least-once delivery never double-counts.

The first slice is guarded too: before any time was measured, a slice starts only if the
table's longest call (``VoteTable.call_seconds``) fits before the deadline; the table checks
the deadline again before each of its calls.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from lambdas.batch import Count, emf_count, failures, messages_of
from lambdas.contract import Vote, latest_per_identity
from lambdas.deadline import Deadline
from lambdas.envelope import pack_ready
from lambdas.log import function_logger, log_batch, log_fields
from lambdas.metrics import emf
from lambdas.ports import Handler, MessageQueue, QueueUnavailable, VoteTable, built_at_init
from lambdas.retry import requeue_delay
from lambdas.writes import WriteReport

__all__ = ["MARGIN_SECONDS", "emf_writes", "handler", "make_handler"]

MARGIN_SECONDS = 4.0
"""Kept free before Lambda's timeout: the table's last call ends here; the one re-queue send
(REQUEUE_BUDGET in total, SqsQueue's bound) and the reply fit after."""
REQUEUE_BUDGET = 3.5
SLICE_VOTES = 5000
"""Votes written between two deadline checks: about 2 s at 512 MB, and few enough slices that
their retry pauses under throttling stay small."""
MAX_ATTEMPTS = 5

log = function_logger("writer")


def make_handler(
    table: VoteTable,
    count: Count | None = None,
    requeue: MessageQueue | None = None,
    margin: float = MARGIN_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    slice_votes: int = SLICE_VOTES,
    rng: Callable[[], float] = random.random,
) -> Handler:
    """``count(stage, n)``: as the processor's. ``requeue``: the ready queue, where the votes
    that still failed go; without it their messages are returned whole. ``rng`` jitters the
    re-queue delays."""
    first_slice_seconds = float(getattr(table, "call_seconds", 0.0))

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        deadline = Deadline.of(context, margin)
        messages = list(messages_of(event.get("Records", []), "writer", count))
        kept = latest_per_identity(
            (vote, n) for n, (_, message) in enumerate(messages) for vote in message.votes
        )
        # ``kept`` is in the order votes were first seen, so roughly message by message: a
        # deadline cut leaves few messages half written, and those come back whole
        failed: dict[int, list[Vote]] = {}
        unstarted: set[int] = set()
        seconds_per_vote = 0.0
        for start in range(0, len(kept), slice_votes):
            part = kept[start : start + slice_votes]
            expected = seconds_per_vote * len(part) if start else first_slice_seconds
            if not deadline.allows(expected):
                unstarted.update(n for _, n in kept[start:])
                break
            began = time.monotonic()
            for i in table.put_latest([vote for vote, _ in part], deadline):
                vote, n = part[i]
                failed.setdefault(n, []).append(vote)
            seconds_per_vote = max(seconds_per_vote, (time.monotonic() - began) / len(part))
        for n in unstarted:  # the message the deadline cut comes back whole
            failed.pop(n, None)
        returned = {messages[n][0] for n in unstarted}
        returned |= _requeue(messages, failed, requeue, max_attempts, rng)
        requeued = sum(len(v) for n, v in failed.items() if messages[n][0] not in returned)
        if log.isEnabledFor(logging.INFO):
            log_batch(
                log,
                "batch written",
                _ids(messages),
                request_id=getattr(context, "aws_request_id", None),
                messages=len(messages),
                votes=len(kept),
                requeued_votes=requeued,
                returned_messages=len(returned),
            )
        return failures(mid for mid, _ in messages if mid in returned)

    return handle


def _requeue(
    messages: Sequence[Any],
    failed: dict[int, list[Vote]],
    ready: MessageQueue | None,
    max_attempts: int,
    rng: Callable[[], float],
) -> set[str]:
    """Send the failed votes back to the ready queue in one send (one time bound), delayed by
    the furthest attempt among them; return the ids of the messages that must come back whole
    instead (out of attempts, or no queue, or the send failed)."""
    returned = set()
    bodies: list[bytes] = []
    sent: list[str] = []
    furthest = 0
    for n, votes in failed.items():
        message_id, message = messages[n]
        attempt = message.attempt + 1
        if ready is None or attempt >= max_attempts:
            returned.add(message_id)
            continue
        bodies += pack_ready(
            [(vote, message.correlation_ids) for vote in votes],
            ready.max_message_bytes,
            attempt=attempt,
        )
        sent.append(message_id)
        furthest = max(furthest, attempt)
    if bodies and ready is not None:
        try:
            ready.send(bodies, delay_seconds=requeue_delay(furthest, rng))
        except QueueUnavailable as exc:
            log.warning("re-queue failed, messages return whole", extra=log_fields(error=str(exc)))
            returned.update(sent)
    return returned


def _ids(messages: Sequence[Any]) -> list[str]:
    ids: dict[str, None] = {}
    for _, message in messages:
        ids.update(dict.fromkeys(message.correlation_ids))
    return list(ids)


def emf_writes(report: WriteReport) -> None:
    """The writer's EMF metrics per table call (dimension TableName): VotesWritten,
    ConsumedWriteUnits (what DynamoDB reported, ReturnConsumedCapacity=TOTAL) and
    WritePathFallback (votes the classic path wrote after a PartiQL statement was refused).
    Units per vote = Sum(ConsumedWriteUnits) / Sum(VotesWritten), as `votectl watch` shows."""
    counts = {"VotesWritten": report.votes, "ConsumedWriteUnits": report.write_units}
    if report.fallback_votes:
        counts["WritePathFallback"] = report.fallback_votes
    emf({"TableName": report.table}, counts)


def _build() -> Handler:
    from lambdas.adapters import DynamoVoteTable, SqsQueue

    ready = os.environ.get("READY_QUEUE_URL")
    requeue = SqsQueue(ready, budget=REQUEUE_BUDGET) if ready else None
    table = DynamoVoteTable(os.environ["TABLE_NAME"], publish=emf_writes)
    return make_handler(table, emf_count, requeue)


handler = built_at_init(_build, "TABLE_NAME")
"""The Lambda entry point: the DynamoDB table named by TABLE_NAME; votes that still fail go
back to READY_QUEUE_URL."""
