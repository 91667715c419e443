"""boto3 adapters shipped in the Lambda zips: SQS as a MessageQueue, DynamoDB as a VoteTable.

The table key design keeps one hot title under a partition's 1,000 WCU/s: a title's votes are
spread over ``shards`` partition keys ``{title_id}#{crc32(user_id) % shards}`` (sort key
``{aspect}#{user_id}``), and a title's results are read by querying every shard. What each
write path sends is in lambdas/writes.py; retries and backoff in lambdas/retry.py.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.contract import Vote
from lambdas.deadline import Deadline
from lambdas.log import function_logger, log_fields
from lambdas.ports import QueueUnavailable
from lambdas.retry import (
    ATTEMPT_SECONDS,
    MAX_DELAY_SECONDS,
    TRANSIENT,
    WRITE_WORKERS,
    Backoff,
    client_config,
    transient,
)
from lambdas.writes import (
    CLASSIC,
    PARTIQL,
    STATEMENTS_PER_CALL,
    WRITE_PATHS,
    Statements,
    WriteReport,
    insert_request,
    partition_key,
    sort_key,
    update_request,
    upsert_request,
    write_path,
)

__all__ = [
    "ATTEMPT_SECONDS",
    "STATEMENTS_PER_CALL",
    "WRITE_PATHS",
    "DynamoVoteTable",
    "SqsQueue",
    "Backoff",
    "client_config",
    "partition_key",
    "sort_key",
]

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024
log = function_logger("writer")


class SqsQueue:
    """A standard SQS queue; ``send`` returns only once every body was accepted.

    Failed entries and transient call errors are retried with jittered backoff. The bound is
    on the whole send, not per attempt: a call (one SendMessageBatch, of any group, in any
    round) starts only if it can end within ``budget`` seconds of the send's start, taking
    ``attempt_seconds`` (the client's connect + read timeouts) as its longest. Only the first
    call always starts, so a send ends within max(budget, attempt_seconds).
    """

    max_message_bytes = 256 * 1024

    def __init__(
        self,
        queue_url: str,
        client: Any = None,
        budget: float = 5.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] | None = None,
        attempt_seconds: float = ATTEMPT_SECONDS,
    ) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client("sqs", config=client_config())
        self._budget = budget
        self._attempt = attempt_seconds
        self._backoff = backoff or (Backoff(base=0.05, sleep=sleep) if sleep else Backoff(0.05))
        self.calls = 0

    @property
    def worst_case_seconds(self) -> float:
        """The longest a ``send`` can take."""
        return max(self._budget, self._attempt)

    def send(self, bodies: Sequence[bytes], delay_seconds: int = 0) -> None:
        """Queue ``bodies``, each delivered no sooner than ``delay_seconds`` (SQS: 0-900)."""
        delay = max(0, min(MAX_DELAY_SECONDS, int(delay_seconds)))
        clock = self._backoff.clock
        give_up = clock() + self._budget
        pending = dict(enumerate(bodies))
        attempt = calls = 0
        while True:
            failed: dict[int, bytes] = {}
            reason = ""
            for group in batches(list(pending.items())):
                if calls and clock() + self._attempt > give_up:
                    failed.update(group)  # no time left for this call: counted as failed
                    reason = reason or f"out of the send's {self._budget} s"
                    continue
                calls += 1
                retry, why = self._send_batch(group, delay)
                failed.update(retry)
                reason = why or reason
            pending = failed
            if not pending:
                return
            pause = self._backoff.pause(attempt)
            if clock() + pause + self._attempt > give_up:
                raise QueueUnavailable(
                    f"{len(pending)} of {len(bodies)} messages not accepted by SQS ({reason})"
                )
            self._backoff.sleep(pause)
            attempt += 1

    def _send_batch(
        self, group: list[tuple[int, bytes]], delay: int
    ) -> tuple[dict[int, bytes], str]:
        """One SendMessageBatch call; return the entries to retry and why."""
        entries: list[dict[str, Any]] = [
            {"Id": str(i), "MessageBody": body.decode()} for i, body in group
        ]
        if delay:  # per entry: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchRequestEntry.html
            for entry in entries:
                entry["DelaySeconds"] = delay
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


# What one write of a vote can come to (see _outcome): settled, the step to run next now,
# retry after a pause, not started for want of time, or lost (no retry can help).
INSERT, UPDATE, UPSERT = "insert", "update", "upsert"
_DONE, _RETRY, _UNSTARTED, _LOST = "done", "retry", "unstarted", "lost"
_REFUSED = frozenset({"ValidationError", "ValidationException"})
FAILED_CONDITION_UNITS = 1.0
"""A failed conditional UpdateItem is billed like a write of the item (1 unit under 1 KB), but
its ConditionalCheckFailedException carries no ConsumedCapacity: counted here as 1."""


def _call_outcome(exc: ClientError, code: str, refused: str = UPSERT) -> str:
    """A whole call failed: retry it, fall back (a refused PartiQL call), or give it up."""
    if transient(exc):
        return _RETRY
    return refused if code in _REFUSED else _LOST


def _outcome(step: str, error: dict[str, Any] | None) -> str:
    """One PartiQL statement's outcome, from its BatchStatementError (None: it succeeded).

    Codes: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchStatementError.html
    """
    if error is None:
        return _DONE
    code = error.get("Code", "")
    if code == "DuplicateItem" and step == INSERT:
        return UPDATE  # the key exists: the conditional UPDATE decides
    if code == "ConditionalCheckFailed" and step == UPDATE:
        # ALL_OLD: the stored item comes back iff there is one (a later or equal vote);
        # without it the item is gone, and the vote needs its INSERT again
        return _DONE if "Item" in error else INSERT
    if code in TRANSIENT:
        return _RETRY
    if code in _REFUSED:
        return UPSERT  # the statement's shape was refused: the classic path writes it
    return _LOST


class DynamoVoteTable:
    """The votes table, last writer (by ``order_key``) wins, exactly.

    ``path`` (env WRITE_PATH): ``partiql`` (default) or ``classic``; lambdas/writes.py says
    what each sends. If DynamoDB refuses a PartiQL statement with a ValidationError (a shape
    AWS does not accept), the table falls back to the classic path: at once for the refused
    votes and for every later write of this execution environment (the refusal would repeat).
    It is logged once and counted (``WriteReport.fallback_votes``); nothing is lost.

    Before each call the deadline must leave room for the call's longest time
    (ATTEMPT_SECONDS); calls it cannot fit are not started and their votes come back as not
    written. Throttled and server-side failures are retried here (the only retry layer) with
    full jitter while the deadline allows; ``put_latest`` returns the indexes still not
    written. Each call asks ``ReturnConsumedCapacity=TOTAL``; ``publish`` gets a WriteReport
    per ``put_latest``. ``calls`` counts the write calls made.
    """

    call_seconds = ATTEMPT_SECONDS

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        shards: int = int(os.environ.get("TABLE_SHARDS", 10)),
        path: str = os.environ.get("WRITE_PATH", PARTIQL),
        rounds: int = 8,
        backoff: Backoff | None = None,
        publish: Callable[[WriteReport], None] | None = None,
    ) -> None:
        self.table_name = table_name
        self.shards = shards
        self.path = write_path(path)
        self.serving = self.path  # CLASSIC once a PartiQL statement was refused
        self.calls = 0
        self._client = client or boto3.client("dynamodb", config=client_config())
        self._rounds = rounds
        # short pauses: a round waits for its slowest group, and 7 rounds take 1/3^7 of a
        # third-throttled slice to under one vote in 2,000
        self._backoff = backoff or Backoff(base=0.02, cap=0.32)
        self._publish = publish
        self._pool: ThreadPoolExecutor | None = None
        self._statements = Statements.of(table_name)

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        if self._pool is None:  # kept for the container's lifetime: warm invocations reuse it
            self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="votes")
        return list(self._pool.map(fn, items))

    def put_latest(self, votes: Sequence[Vote], deadline: Deadline | None = None) -> list[int]:
        """Upsert ``votes``; return the indexes that are still not written (retry those)."""
        first = INSERT if self.serving == PARTIQL else UPSERT
        pending = dict.fromkeys(range(len(votes)), first)  # index -> the step it needs
        failed: list[int] = []
        tally = Counter[str]()
        calls_before = self.calls
        attempt = passes = 0
        while pending:
            retry, again, lost = self._round(votes, pending, deadline, tally)
            failed += lost
            pending = {**again, **retry}
            passes += 1
            if passes >= 3 * self._rounds:
                break  # items created and deleted under us, round after round
            if not retry:
                continue  # only next steps (UPDATE after INSERT...): no backoff needed
            pause = self._backoff.pause(attempt)
            attempt += 1
            if attempt >= self._rounds or (
                deadline is not None and not deadline.allows(pause + ATTEMPT_SECONDS)
            ):
                break
            self._backoff.sleep(pause)
        if self._publish is not None and votes:
            self._publish(
                WriteReport(
                    self.table_name,
                    self.serving,
                    len(votes) - len(failed) - len(pending),
                    tally["units"],
                    tally["fallback"],
                    self.calls - calls_before,
                )
            )
        return sorted(failed + list(pending))

    def _round(
        self,
        votes: Sequence[Vote],
        pending: dict[int, str],
        deadline: Deadline | None,
        tally: Counter[str],
    ) -> tuple[dict[int, str], dict[int, str], list[int]]:
        """One pass over ``pending``: (to retry after a pause, to run again now, lost)."""
        if self.serving == CLASSIC:
            pending = dict.fromkeys(pending, UPSERT)
        statements = [(i, step) for i, step in pending.items() if step != UPSERT]
        jobs: list[list[tuple[int, str]]] = [
            statements[n : n + STATEMENTS_PER_CALL]
            for n in range(0, len(statements), STATEMENTS_PER_CALL)
        ]
        jobs += [[(i, UPSERT)] for i, step in pending.items() if step == UPSERT]

        def run(job: list[tuple[int, str]]) -> tuple[list[str], float]:
            if deadline is not None and not deadline.allows(ATTEMPT_SECONDS):
                return [_UNSTARTED] * len(job), 0.0
            if job[0][1] == UPSERT:
                return self._upsert(votes[job[0][0]])
            return self._batch(votes, job)

        retry: dict[int, str] = {}
        again: dict[int, str] = {}
        lost: list[int] = []
        refused = 0
        answers = self._map(run, jobs)
        self.calls += sum(1 for outcomes, _ in answers if outcomes[0] != _UNSTARTED)
        for job, (outcomes, units) in zip(jobs, answers, strict=True):
            tally["units"] += units
            for (i, step), outcome in zip(job, outcomes, strict=True):
                if step == UPSERT and self.path == PARTIQL and outcome == _DONE:
                    tally["fallback"] += 1
                if outcome == _DONE:
                    continue
                if outcome == _RETRY:
                    retry[i] = step
                elif outcome in (_UNSTARTED, _LOST):
                    lost.append(i)
                elif outcome == UPSERT and step != UPSERT:
                    refused += 1
                    again[i] = UPSERT
                else:
                    again[i] = outcome  # the next step: UPDATE, INSERT again, or UPSERT
        if refused and self.serving == PARTIQL:
            self.serving = CLASSIC
            log.warning(
                "DynamoDB refused a PartiQL statement (ValidationError); writing with "
                "UpdateItem from now on",
                extra=log_fields(table=self.table_name, refused_votes=refused),
            )
        return retry, again, lost

    def _batch(self, votes: Sequence[Vote], job: list[tuple[int, str]]) -> tuple[list[str], float]:
        """One BatchExecuteStatement call: each statement's outcome, and the units consumed."""
        requests = [
            (insert_request if step == INSERT else update_request)(
                self._statements, votes[i], self.shards
            )
            for i, step in job
        ]
        try:
            reply = self._client.batch_execute_statement(
                Statements=requests, ReturnConsumedCapacity="TOTAL"
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return [_call_outcome(exc, code)] * len(job), 0.0
        except BotoCoreError:
            return [_RETRY] * len(job), 0.0
        units = sum(c.get("CapacityUnits", 0.0) for c in reply.get("ConsumedCapacity", []))
        outcomes = [
            _outcome(step, response.get("Error"))
            for (_, step), response in zip(job, reply["Responses"], strict=True)
        ]
        return outcomes, units

    def _upsert(self, vote: Vote) -> tuple[list[str], float]:
        """One conditional UpdateItem (the classic path)."""
        try:
            reply = self._client.update_item(**upsert_request(self.table_name, vote, self.shards))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                # the condition includes attribute_not_exists(pk): it fails only on a stored
                # item, a later or equal vote (ALL_OLD returns it)
                settled = "Item" in exc.response
                return [_DONE if settled else UPSERT], FAILED_CONDITION_UNITS
            return [_call_outcome(exc, code, refused=_LOST)], 0.0
        except BotoCoreError:
            return [_RETRY], 0.0
        return [_DONE], float(reply.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))

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
