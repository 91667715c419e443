"""Writer: SQS batch of sanitised votes -> idempotent last-writer-wins upsert into the table.

Votes that failed transiently send their records back through ``batchItemFailures``; re-writing
the others on retry changes nothing, so at-least-once delivery never double-counts.
"""

from __future__ import annotations

import os
from typing import Any

from lambdas.batch import Count, emf_count, failures, votes_of
from lambdas.contract import latest_per_identity
from lambdas.ports import Handler, VoteTable, built_on_first_call

__all__ = ["handler", "make_handler"]


def make_handler(table: VoteTable, count: Count | None = None) -> Handler:
    """``count(stage, n)``: as the processor's."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        records = votes_of(event.get("Records", []), "writer", count)
        kept = latest_per_identity((vote, mid) for mid, votes in records for vote in votes)
        if not kept:
            return failures([])
        failed = table.put_latest([vote for vote, _ in kept])
        return failures(kept[i][1] for i in failed)

    return handle


def _build() -> Handler:
    from lambdas.adapters import DynamoVoteTable

    return make_handler(DynamoVoteTable(os.environ["TABLE_NAME"]), emf_count)


handler = built_on_first_call(_build)
"""The Lambda entry point: the DynamoDB table named by TABLE_NAME."""
