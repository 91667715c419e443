"""What the two SQS-triggered handlers share: reading records and reporting failures."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lambdas.contract import Invalid, Vote, decode_envelope

__all__ = ["failures", "votes_of"]

log = logging.getLogger("votectl.handlers")


def votes_of(records: Iterable[dict[str, Any]], stage: str) -> Iterator[tuple[str, list[Vote]]]:
    """Yield (messageId, valid votes) per record; what can never be valid is logged and dropped.

    A vote that arrives without ``voted_at`` (a foreign sender) is stamped with the
    message's SentTimestamp, the closest thing to its time of receipt.
    """
    for record in records:
        message_id = record["messageId"]
        try:
            votes, problems = decode_envelope(record["body"])
        except Invalid as exc:
            _reject(stage, message_id, exc.error, 1)
            continue
        if problems:
            _reject(stage, message_id, "; ".join(p.message for p in problems), len(problems))
        if any(v.voted_at is None for v in votes):
            sent = int(record.get("attributes", {}).get("SentTimestamp", "0")) / 1000
            stamp = datetime.fromtimestamp(sent, UTC)
            for vote in votes:
                if vote.voted_at is None:
                    vote.voted_at = stamp
        yield message_id, votes


def _reject(stage: str, message_id: str, reason: str, count: int) -> None:
    log.warning(
        json.dumps({"stage": stage, "rejected": count, "messageId": message_id, "reason": reason})
    )


def failures(message_ids: Iterable[str]) -> dict[str, Any]:
    """The partial-batch response Lambda's event source mapping (and the local poller) reads."""
    return {"batchItemFailures": [{"itemIdentifier": m} for m in dict.fromkeys(message_ids)]}
