"""What the two SQS-triggered handlers share: reading records and reporting failures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lambdas.contract import Invalid
from lambdas.envelope import Read, read
from lambdas.log import function_logger, log_fields
from lambdas.metrics import emf

__all__ = ["Count", "emf_count", "failures", "messages_of"]

Count = Callable[[str, int], None]
"""count(stage, n): where a handler counts the votes it rejected."""


def emf_count(stage: str, n: int) -> None:
    """One CloudWatch Embedded Metric Format line on stdout: on Lambda it becomes the metric
    votectl/RejectedVotes with no API call, under the dimension FunctionName: the deployed
    function (``<stack>-processor``), so each stack's alarm watches its own votes only. Lambda
    sets AWS_LAMBDA_FUNCTION_NAME in every function ("Defined runtime environment variables",
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
    off Lambda the handler's name (``stage``) stands in."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or stage
    emf({"FunctionName": function}, {"RejectedVotes": n})


def messages_of(
    records: Iterable[dict[str, Any]], stage: str, count: Count | None = None
) -> Iterator[tuple[str, Read]]:
    """Yield (messageId, the message read) per record. What can never be valid is logged,
    counted with ``count`` and dropped: retrying it could not help.

    A vote that arrives without ``voted_at`` (a foreign sender) is stamped with the
    message's SentTimestamp, the closest thing to its time of receipt.
    """
    for record in records:
        message_id = record["messageId"]
        try:
            message = read(record["body"])
        except Invalid as exc:
            _reject(stage, message_id, exc.error, 1, count)
            continue
        if message.problems:
            reason = "; ".join(p.message for p in message.problems)
            _reject(stage, message_id, reason, len(message.problems), count)
        votes = message.votes
        if any(v.voted_at is None for v in votes):
            sent = int(record.get("attributes", {}).get("SentTimestamp", "0")) / 1000
            stamp = datetime.fromtimestamp(sent, UTC)
            for vote in votes:
                if vote.voted_at is None:
                    vote.voted_at = stamp
        yield message_id, message


def _reject(stage: str, message_id: str, reason: str, n: int, count: Count | None) -> None:
    function_logger(stage).warning(
        "votes rejected", extra=log_fields(rejected=n, message_id=message_id, reason=reason)
    )
    if count is not None:
        count(stage, n)


def failures(message_ids: Iterable[str]) -> dict[str, Any]:
    """The partial-batch response Lambda's event source mapping (and the local poller) reads."""
    return {"batchItemFailures": [{"itemIdentifier": m} for m in dict.fromkeys(message_ids)]}
