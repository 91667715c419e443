"""boto3 adapters shipped in the Lambda zips: SQS as a MessageQueue, DynamoDB as a VoteTable.

The table key design keeps one hot title under a partition's 1,000 WCU/s: a title's votes are
spread over ``shards`` partition keys ``{title_id}#{crc32(user_id) % shards}`` (sort key
``{aspect}#{user_id}``), and a title's results are read by querying every shard.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.contract import Vote, stored_voted_at
from lambdas.ports import QueueUnavailable

__all__ = ["DynamoVoteTable", "SqsQueue", "partition_key", "sort_key"]

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024
WRITE_WORKERS = 16
_CONFIG = Config(max_pool_connections=2 * WRITE_WORKERS, retries={"mode": "standard"})


class SqsQueue:
    """A standard SQS queue; ``send`` returns only once every body was accepted."""

    max_message_bytes = 256 * 1024

    def __init__(
        self,
        queue_url: str,
        client: Any = None,
        attempts: int = 4,
        backoff: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client("sqs", config=_CONFIG)
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep

    def send(self, bodies: Sequence[bytes]) -> None:
        pending = dict(enumerate(bodies))
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            failed: dict[int, bytes] = {}
            for group in batches(list(pending.items())):
                failed.update(self._send_batch(group))
            pending = failed
            if not pending:
                return
        raise QueueUnavailable(f"{len(pending)} of {len(bodies)} messages not accepted by SQS")

    def _send_batch(self, group: list[tuple[int, bytes]]) -> dict[int, bytes]:
        """Send one SendMessageBatch call; return the entries to retry."""
        entries = [{"Id": str(i), "MessageBody": body.decode()} for i, body in group]
        try:
            reply = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            raise QueueUnavailable(str(exc)) from exc
        by_id = dict(group)
        retry = {}
        for failure in reply.get("Failed", []):
            if failure.get("SenderFault"):
                raise QueueUnavailable(f"SQS rejected a message: {failure.get('Message', '')}")
            index = int(failure["Id"])
            retry[index] = by_id[index]
        return retry


def batches(
    items: list[tuple[int, bytes]],
    max_entries: int = SQS_BATCH_ENTRIES,
    max_bytes: int = SQS_BATCH_BYTES,
) -> Iterator[list[tuple[int, bytes]]]:
    """Group (index, body) pairs into runs of at most ``max_entries`` and ``max_bytes`` in total."""
    group: list[tuple[int, bytes]] = []
    size = 0
    for item in items:
        length = len(item[1])
        if group and (len(group) == max_entries or size + length > max_bytes):
            yield group
            group, size = [], 0
        group.append(item)
        size += length
    if group:
        yield group


def partition_key(title_id: str, user_id: str, shards: int) -> str:
    return f"{title_id}#{zlib.crc32(user_id.encode()) % shards}"


def sort_key(aspect: str, user_id: str) -> str:
    return f"{aspect}#{user_id}"


# Write iff absent, or the stored (voted_at, score) is less than the new one.
_LATEST_WINS = "attribute_not_exists(pk) OR #at < :at OR (#at = :at AND #score < :score)"


class DynamoVoteTable:
    """The votes table: conditional PutItem per vote, last writer (by ``order_key``) wins."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        shards: int = int(os.environ.get("TABLE_SHARDS", 10)),
    ) -> None:
        self.table_name = table_name
        self.shards = shards
        self._client = client or boto3.client("dynamodb", config=_CONFIG)
        self._pool: ThreadPoolExecutor | None = None

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        if self._pool is None:  # kept for the container's lifetime: warm invocations reuse it
            self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="votes")
        return list(self._pool.map(fn, items))

    def put_latest(self, votes: Sequence[Vote]) -> Sequence[int]:
        written = self._map(self._put, votes)
        return [i for i, ok in enumerate(written) if not ok]

    def _put(self, vote: Vote) -> bool:
        """True if stored or already superseded; False on a transient failure."""
        at = stored_voted_at(vote.voted_at)
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": partition_key(vote.title_id, vote.user_id, self.shards)},
                    "sk": {"S": sort_key(vote.aspect, vote.user_id)},
                    "title_id": {"S": vote.title_id},
                    "user_id": {"S": vote.user_id},
                    "aspect": {"S": vote.aspect},
                    "score": {"N": str(vote.score)},
                    "voted_at": {"S": at},
                },
                ConditionExpression=_LATEST_WINS,
                ExpressionAttributeNames={"#at": "voted_at", "#score": "score"},
                ExpressionAttributeValues={":at": {"S": at}, ":score": {"N": str(vote.score)}},
            )
        except ClientError as exc:
            return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
        except BotoCoreError:
            return False
        return True

    def counts(self, title_id: str) -> dict[tuple[str, int], int]:
        """(aspect, score) -> votes for one title, read from all its shards in parallel."""
        total: Counter[tuple[str, int]] = Counter()
        for shard in self._map(lambda n: self._shard_counts(f"{title_id}#{n}"), range(self.shards)):
            total.update(shard)
        return dict(total)

    def _shard_counts(self, pk: str) -> Counter[tuple[str, int]]:
        counts: Counter[tuple[str, int]] = Counter()
        pages = self._client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ProjectionExpression="aspect, #score",
            ExpressionAttributeNames={"#score": "score"},
        )
        for page in pages:
            for item in page.get("Items", []):
                counts[(item["aspect"]["S"], int(item["score"]["N"]))] += 1
        return counts
