"""Writer: SQS batch of sanitised votes -> idempotent last-writer-wins upsert into the table.

Votes that failed transiently send their records back through ``batchItemFailures``; re-writing
the others on retry changes nothing, so at-least-once delivery never double-counts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lambdas.batch import failures, votes_of
from lambdas.contract import latest_per_identity
from lambdas.ports import VoteTable

__all__ = ["handler", "make_handler"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def make_handler(table: VoteTable) -> Handler:
    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        records = votes_of(event.get("Records", []), "writer")
        kept = latest_per_identity((vote, mid) for mid, votes in records for vote in votes)
        if not kept:
            return failures([])
        failed = table.put_latest([vote for vote, _ in kept])
        return failures(kept[i][1] for i in failed)

    return handle


_default: Handler | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: DynamoDB table from TABLE_NAME, built on first use."""
    global _default
    if _default is None:
        from lambdas.adapters import DynamoVoteTable

        _default = make_handler(DynamoVoteTable(os.environ["TABLE_NAME"]))
    return _default(event, context)
