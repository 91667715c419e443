"""The write path on AWS's terms, against the stub endpoint (benchmarks/aws_stub.py): a PartiQL
statement DynamoDB refuses, an item deleted under an UPDATE, the write units each vote costs,
the writer's first slice under the deadline, and the receiver on a stalled SQS."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks.aws_stub import Stub
from lambdas import receiver, writer
from lambdas.adapters import DynamoVoteTable, SqsQueue, partition_key, sort_key
from lambdas.contract import Vote, stored_voted_at
from lambdas.envelope import pack_ready
from lambdas.retry import requeue_delay
from tests.functional import test_aws_faults as faults
from tests.functional.conftest import http_event, sqs_event
from tests.functional.test_aws_faults import (
    READY,
    VOTES,
    Context,
    client,
    ready_message,
    vote,
)
from votectl.local.queue import SqliteQueue

stub = faults.stub  # the stub endpoint fixture, shared


def seed(s: Stub, v: Vote, score: int = 1, age: timedelta = timedelta(minutes=5)) -> None:
    """An older vote of ``v``'s identity already in the table (so ``v`` is a re-vote)."""
    pk, sk = partition_key(v.title_id, v.user_id, 4), sort_key(v.aspect, v.user_id)
    at = stored_voted_at(v.voted_at - age)  # type: ignore[operator]
    s.items[(pk, sk)] = {"pk": pk, "sk": sk, "score": str(score), "voted_at": at}


def item(s: Stub, v: Vote) -> dict[str, Any]:
    return s.items[(partition_key(v.title_id, v.user_id, 4), sort_key(v.aspect, v.user_id))]


def batch(votes: list[Vote], per_message: int = 10) -> dict[str, Any]:
    pairs = [(v, ["req-1"]) for v in votes]
    bodies = [
        pack_ready(pairs[n : n + per_message], 256 * 1024)[0].decode()
        for n in range(0, len(pairs), per_message)
    ]
    return sqs_event(bodies)


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, out.splitlines()) if "_aws" in line]


def writer_on(url: str, path: str = "partiql") -> DynamoVoteTable:
    """The writer's table as _build makes it (its metrics as EMF lines), on the stub."""
    return DynamoVoteTable(
        "votes", client=client("dynamodb", url), shards=4, path=path, publish=writer.emf_writes
    )


@pytest.mark.parametrize("refused", ["UPDATE", "INSERT"])
def test_a_refused_statement_falls_back_to_update_item_and_loses_nothing(
    stub: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], refused: str
) -> None:
    s, url = stub
    s.settings.refuse = refused
    votes = [vote(f"u{n}", score=1 + n % 5) for n in range(60)]
    for v in votes[::5]:
        seed(s, v)  # a re-vote: its INSERT is a DuplicateItem, then the UPDATE decides
    stale = [vote("old", score=5)]
    seed(s, stale[0], score=2, age=timedelta(minutes=-5))  # a later vote is stored: it loses
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    table = writer_on(url)
    handle = writer.make_handler(table, requeue=ready)
    for _ in range(2):  # a second invocation writes classic from the start
        assert handle(batch(votes + stale), Context(30_000)) == {"batchItemFailures": []}
    assert ready.stats()[0].delayed + ready.stats()[0].visible == 0  # nothing re-queued
    for v in votes:
        assert (item(s, v)["voted_at"], int(item(s, v)["score"])) == (
            stored_voted_at(v.voted_at),
            v.score,
        )
    assert int(item(s, stale[0])["score"]) == 2  # the stored later vote kept
    revote = item(s, votes[5])
    assert revote["write_path"] == "classic"  # the re-vote went through UpdateItem
    fresh = item(s, votes[2])["write_path"]
    assert fresh == ("partiql" if refused == "UPDATE" else "classic")
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if "refused a PartiQL statement" in line]
    assert len(warnings) == 1  # logged once, for the execution environment
    metrics = emf_lines(out)
    assert all(m["TableName"] == "votes" for m in metrics)
    assert sum(m["VotesWritten"] for m in metrics) == 2 * 61
    # the first invocation: the 12 re-votes and the stale vote (UPDATE refused) or all 61
    # (INSERT refused); the second: all 61, classic from the start
    fallback = [m.get("WritePathFallback", 0) for m in metrics]
    assert fallback == ([13, 61] if refused == "UPDATE" else [61, 61])
    names = {n["Name"] for m in metrics for n in m["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"VotesWritten", "ConsumedWriteUnits", "WritePathFallback"} <= names


def test_an_item_gone_before_its_update_is_inserted_again(stub: Any) -> None:
    s, url = stub
    s.settings.vanish = "gone"
    v = vote("gone-1", score=4)
    seed(s, v)
    table = writer_on(url)
    assert table.put_latest([v]) == []
    assert s.calls["vanished"] == 1
    assert (int(item(s, v)["score"]), item(s, v)["write_path"]) == (4, "partiql")
    assert s.calls["statements"] == 3  # INSERT (duplicate), UPDATE (no item), INSERT


@pytest.mark.parametrize("path", ["partiql", "classic"])
def test_consumed_write_units_per_vote_as_aws_bills_them(
    stub: Any, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    """A new vote costs a unit; a re-vote on PartiQL two (the refused INSERT is billed), one
    on the classic path. The writer reports what DynamoDB reported."""
    s, url = stub
    votes = [vote(f"v{n}") for n in range(100)]
    for v in votes[::10]:
        seed(s, v)
    table = writer_on(url, path)
    assert table.put_latest(votes) == []
    [line] = emf_lines(capsys.readouterr().out)
    per_vote = line["ConsumedWriteUnits"] / line["VotesWritten"]
    assert per_vote == (1.1 if path == "partiql" else 1.0)
    assert line["ConsumedWriteUnits"] == s.calls["write_units"]


def test_requeued_votes_carry_a_delay_that_grows_with_their_attempt(stub: Any) -> None:
    s, url = stub
    s.settings.always_throttle = "bad"
    requeue = SqsQueue(READY, client=client("sqs", url))
    handle = writer.make_handler(writer_on(url), requeue=requeue, rng=lambda: 1.0)
    first = sqs_event([ready_message(["bad-a", "ok-a"])])
    assert handle(first, Context(30_000)) == {"batchItemFailures": []}
    later = sqs_event([ready_message(["bad-b"], attempt=2), ready_message(["bad-c"])])
    assert handle(later, Context(30_000)) == {"batchItemFailures": []}
    # one send per invocation (one time bound), every message in it delayed by its furthest
    # attempt: 1 (5 s), then 3 (20 s) for both of the second invocation's messages
    one, three = requeue_delay(1, lambda: 1.0), requeue_delay(3, lambda: 1.0)
    assert s.delays[READY] == [one, three, three] == [5, 20, 20]
    assert s.calls["SendMessageBatch"] == 2


def test_the_first_slice_waits_for_room_for_one_call(stub: Any) -> None:
    s, url = stub
    table = writer_on(url)
    handle = writer.make_handler(table, margin=4.0)
    # 3.6 s left less a quarter's margin: 2.7 s, less than one 3 s call could take
    response = handle(batch([vote("a"), vote("b")], per_message=1), Context(3_600))
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["msg-0", "msg-1"]
    assert s.calls["BatchExecuteStatement"] == 0 and not s.items


def test_receiver_answers_503_with_retry_after_within_its_budget(stub: Any) -> None:
    s, url = stub
    s.settings.sqs_stall = 10.0  # a stalled SQS: beyond the receiver's 0.7 s read timeout
    queue = receiver.votes_queue(
        VOTES,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    handle = receiver.make_handler(queue)
    body = json.dumps({"user_id": "u", "title_id": "t", "aspect": "story", "score": 3})
    response = handle(http_event("POST", "/votes", body), None)
    assert response["statusCode"] == 503
    assert response["headers"]["retry-after"] == "2"
    assert response["headers"]["content-type"] == "application/json"
    assert "retry" in json.loads(response["body"])["error"]
    # the bound is the adapter's arithmetic, not a stopwatch: one call, 1.5 s at most
    assert s.calls["SendMessageBatch"] == 1
    assert queue.worst_case_seconds == receiver.SQS_BUDGET_SECONDS <= 1.5  # type: ignore[attr-defined]
    assert READY not in s.messages
