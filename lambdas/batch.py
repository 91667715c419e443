"""What the two SQS-triggered handlers share: reading records and reporting failures."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lambdas.contract import Invalid, Vote, decode_envelope

__all__ = ["Count", "emf_count", "failures", "votes_of"]

log = logging.getLogger("votectl.handlers")

Count = Callable[[str, int], None]
"""count(stage, n): where a handler counts the votes it rejected."""


def emf_count(stage: str, n: int) -> None:
    """One CloudWatch Embedded Metric Format line on stdout: on Lambda it becomes the metric
    votectl/RejectedVotes (dimension Stage), with no API call."""
    metric = {
        "Namespace": "votectl",
        "Dimensions": [["Stage"]],
        "Metrics": [{"Name": "RejectedVotes", "Unit": "Count"}],
    }
    aws = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [metric]}
    print(json.dumps({"_aws": aws, "Stage": stage, "RejectedVotes": n}), flush=True)


def votes_of(
    records: Iterable[dict[str, Any]], stage: str, count: Count | None = None
) -> Iterator[tuple[str, list[Vote]]]:
    """Yield (messageId, valid votes) per record. What can never be valid is logged, counted
    with ``count`` and dropped: retrying it could not help.

    A vote that arrives without ``voted_at`` (a foreign sender) is stamped with the
    message's SentTimestamp, the closest thing to its time of receipt.
    """
    for record in records:
        message_id = record["messageId"]
        try:
            votes, problems = decode_envelope(record["body"])
        except Invalid as exc:
            _reject(stage, message_id, exc.error, 1, count)
            continue
        if problems:
            reason = "; ".join(p.message for p in problems)
            _reject(stage, message_id, reason, len(problems), count)
        if any(v.voted_at is None for v in votes):
            sent = int(record.get("attributes", {}).get("SentTimestamp", "0")) / 1000
            stamp = datetime.fromtimestamp(sent, UTC)
            for vote in votes:
                if vote.voted_at is None:
                    vote.voted_at = stamp
        yield message_id, votes


def _reject(stage: str, message_id: str, reason: str, n: int, count: Count | None) -> None:
    log.warning(
        json.dumps({"stage": stage, "rejected": n, "messageId": message_id, "reason": reason})
    )
    if count is not None:
        count(stage, n)


def failures(message_ids: Iterable[str]) -> dict[str, Any]:
    """The partial-batch response Lambda's event source mapping (and the local poller) reads."""
    return {"batchItemFailures": [{"itemIdentifier": m} for m in dict.fromkeys(message_ids)]}
