"""boto3 adapters shipped in the Lambda zips: SQS as a MessageQueue, DynamoDB as a VoteTable.

The table key design keeps one hot title under a partition's 1,000 WCU/s: a title's votes are
spread over ``shards`` partition keys ``{title_id}#{crc32(user_id) % shards}`` (sort key
``{aspect}#{user_id}``), and a title's results are read by querying every shard.
"""

from __future__ import annotations

import os
import random
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
from lambdas.deadline import Deadline
from lambdas.ports import QueueUnavailable

__all__ = [
    "DynamoVoteTable",
    "SqsQueue",
    "Backoff",
    "client_config",
    "partition_key",
    "sort_key",
]

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024
WRITE_WORKERS = 16
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
ATTEMPT_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT
"""The longest one call can take: the adapters retry only while another attempt fits."""


def client_config() -> Config:
    """One retry layer, ours: botocore makes one attempt per call, bounded by its timeouts."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=2 * WRITE_WORKERS,
    )


# Errors worth another attempt (AWS's throttling and server-side codes); anything else a
# retry cannot fix.
_TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "ThrottlingException",
        "ThrottlingError",
        "Throttling",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TransactionConflict",
        "TransactionConflictException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "KMS.ThrottlingException",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)


def transient(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT or status >= 500
    return isinstance(exc, BotoCoreError)  # timeouts, connection errors


class Backoff:
    """Full-jitter exponential backoff (sleep a random part of base * 2^n, capped)."""

    def __init__(
        self,
        base: float = 0.025,
        cap: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base, self.cap, self.sleep, self.rng, self.clock = base, cap, sleep, rng, clock

    def pause(self, attempt: int) -> float:
        return self.rng() * min(self.cap, self.base * 2**attempt)


class SqsQueue:
    """A standard SQS queue; ``send`` returns only once every body was accepted.

    Failed entries and transient call errors are retried with jittered backoff while a new
    attempt can start within ``budget`` seconds of the send; each attempt takes at most
    ATTEMPT_SECONDS, so a send never takes longer than budget + ATTEMPT_SECONDS.
    """

    max_message_bytes = 256 * 1024

    def __init__(
        self,
        queue_url: str,
        client: Any = None,
        budget: float = 5.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client("sqs", config=client_config())
        self._budget = budget
        self._backoff = backoff or Backoff(base=0.05, sleep=sleep)
        self.calls = 0

    def send(self, bodies: Sequence[bytes]) -> None:
        clock = self._backoff.clock
        give_up = clock() + self._budget
        pending = dict(enumerate(bodies))
        attempt = 0
        while True:
            failed: dict[int, bytes] = {}
            reason = ""
            for group in batches(list(pending.items())):
                retry, why = self._send_batch(group)
                failed.update(retry)
                reason = why or reason
            pending = failed
            if not pending:
                return
            pause = self._backoff.pause(attempt)
            if clock() + pause >= give_up:
                raise QueueUnavailable(
                    f"{len(pending)} of {len(bodies)} messages not accepted by SQS ({reason})"
                )
            self._backoff.sleep(pause)
            attempt += 1

    def _send_batch(self, group: list[tuple[int, bytes]]) -> tuple[dict[int, bytes], str]:
        """One SendMessageBatch call; return the entries to retry and why."""
        entries = [{"Id": str(i), "MessageBody": body.decode()} for i, body in group]
        self.calls += 1
        try:
            reply = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            if not transient(exc):
                raise QueueUnavailable(str(exc)) from exc
            return dict(group), str(exc)
        by_id = dict(group)
        retry = {}
        reason = ""
        for failure in reply.get("Failed", []):
            if failure.get("SenderFault"):
                raise QueueUnavailable(f"SQS rejected a message: {failure.get('Message', '')}")
            index = int(failure["Id"])
            retry[index] = by_id[index]
            reason = failure.get("Code", "") or reason
        return retry, reason


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
_ITEM = "{'pk': ?, 'sk': ?, 'title_id': ?, 'user_id': ?, 'aspect': ?, 'score': ?, 'voted_at': ?}"
STATEMENTS_PER_CALL = 25  # BatchExecuteStatement's limit

WRITE_PATHS = ("partiql", "putitem")


class DynamoVoteTable:
    """The votes table, last writer (by ``order_key``) wins, exactly.

    Write paths (``path``; README, "Table key design" measures and cites them):

    - ``partiql`` (default): BatchExecuteStatement, 25 statements a call. A vote is first an
      ``INSERT`` (fails with DuplicateItem iff the key exists); a duplicate becomes an
      ``UPDATE ... WHERE pk AND sk AND (voted_at < ? OR (voted_at = ? AND score < ?))``, whose
      ConditionalCheckFailed means a later or equal vote is stored. Items are never deleted,
      so the two steps decide exactly what one conditional PutItem would.
    - ``putitem``: one conditional PutItem per vote, in threads.

    Throttled and server-side failures are retried here (the only retry layer) with full
    jitter while the deadline allows; ``put_latest`` returns the indexes still not written.
    ``calls`` counts the write calls made.
    """

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        shards: int = int(os.environ.get("TABLE_SHARDS", 10)),
        path: str = os.environ.get("WRITE_PATH", "partiql"),
        rounds: int = 8,
        backoff: Backoff | None = None,
    ) -> None:
        if path not in WRITE_PATHS:
            raise ValueError(f"write path must be one of {WRITE_PATHS}, not {path!r}")
        self.table_name = table_name
        self.shards = shards
        self.path = path
        self.calls = 0
        self._client = client or boto3.client("dynamodb", config=client_config())
        self._rounds = rounds
        # short pauses: a round waits for its slowest group, and 7 rounds take 1/3^7 of a
        # third-throttled slice to under one vote in 2,000
        self._backoff = backoff or Backoff(base=0.02, cap=0.32)
        self._pool: ThreadPoolExecutor | None = None
        self._insert = f'INSERT INTO "{table_name}" VALUE {_ITEM}'
        self._update = (
            f'UPDATE "{table_name}" SET "score" = ? SET "voted_at" = ? '
            'WHERE "pk" = ? AND "sk" = ? AND ("voted_at" < ? OR ("voted_at" = ? AND "score" < ?))'
        )

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        if self._pool is None:  # kept for the container's lifetime: warm invocations reuse it
            self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="votes")
        return list(self._pool.map(fn, items))

    def put_latest(self, votes: Sequence[Vote], deadline: Deadline | None = None) -> list[int]:
        """Upsert ``votes``; return the indexes that are still not written (retry those)."""
        # index -> True while the vote still needs its INSERT (PartiQL), False for the UPDATE
        pending = dict.fromkeys(range(len(votes)), True)
        failed: list[int] = []
        attempt = 0
        while pending:
            retry, again, lost = self._round(votes, pending)
            failed += lost
            pending = {**again, **retry}
            if not retry:
                continue  # only UPDATEs after duplicates: no backoff needed
            pause = self._backoff.pause(attempt)
            attempt += 1
            if attempt >= self._rounds or (
                deadline is not None and not deadline.allows(pause + ATTEMPT_SECONDS)
            ):
                break
            self._backoff.sleep(pause)
        return sorted(failed + list(pending))

    def _round(
        self, votes: Sequence[Vote], pending: dict[int, bool]
    ) -> tuple[dict[int, bool], dict[int, bool], list[int]]:
        """One pass over ``pending``: (to retry after a pause, to run again now, lost)."""
        if self.path == "putitem":
            return self._put_round(votes, list(pending))
        items = list(pending.items())
        step = STATEMENTS_PER_CALL
        groups = [items[n : n + step] for n in range(0, len(items), step)]
        self.calls += len(groups)
        retry: dict[int, bool] = {}
        again: dict[int, bool] = {}
        lost: list[int] = []
        answers = self._map(lambda g: self._batch(votes, g), groups)
        for group, codes in zip(groups, answers, strict=True):
            for (i, inserting), code in zip(group, codes, strict=True):
                if code is None or code == "ConditionalCheckFailed":
                    continue  # stored, or a later or equal vote is
                if code == "DuplicateItem" and inserting:
                    again[i] = False
                elif code in _TRANSIENT:
                    retry[i] = inserting
                else:
                    lost.append(i)  # e.g. ValidationError: no retry can help
        return retry, again, lost

    def _put_round(
        self, votes: Sequence[Vote], indexes: list[int]
    ) -> tuple[dict[int, bool], dict[int, bool], list[int]]:
        self.calls += len(indexes)
        outcomes = self._map(lambda i: self._put(votes[i]), indexes)
        retry = {i: True for i, ok in zip(indexes, outcomes, strict=True) if ok is None}
        lost = [i for i, ok in zip(indexes, outcomes, strict=True) if ok is False]
        return retry, {}, lost

    def _batch(self, votes: Sequence[Vote], group: list[tuple[int, bool]]) -> list[str | None]:
        """One BatchExecuteStatement call; each statement's error code (None: succeeded)."""
        statements = []
        for i, inserting in group:
            vote = votes[i]
            at = {"S": stored_voted_at(vote.voted_at)}
            score = {"N": str(vote.score)}
            pk = {"S": partition_key(vote.title_id, vote.user_id, self.shards)}
            sk = {"S": sort_key(vote.aspect, vote.user_id)}
            if inserting:
                params = [pk, sk, {"S": vote.title_id}, {"S": vote.user_id}, {"S": vote.aspect}]
                statements.append({"Statement": self._insert, "Parameters": [*params, score, at]})
            else:
                params = [score, at, pk, sk, at, at, score]
                statements.append({"Statement": self._update, "Parameters": params})
        try:
            reply = self._client.batch_execute_statement(Statements=statements)
        except (ClientError, BotoCoreError) as exc:
            code = "ThrottlingError" if transient(exc) else "ValidationError"
            return [code] * len(group)
        return [r["Error"].get("Code") if "Error" in r else None for r in reply["Responses"]]

    def _put(self, vote: Vote) -> bool | None:
        """True if stored or already superseded; None on a transient failure, False if lost."""
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
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return True
            return None if transient(exc) else False
        except BotoCoreError:
            return None
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
