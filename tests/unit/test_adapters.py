"""The boto3 adapters against moto: SQS batching limits and retries, DynamoDB last-writer-wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdas.adapters import Backoff, DynamoVoteTable, SqsQueue, batches, partition_key
from lambdas.contract import Vote
from lambdas.ports import QueueUnavailable
from lambdas.retry import requeue_delay
from lambdas.writes import WriteReport, upsert_request, write_path

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def vote(user: str = "u1", score: int = 3, at: datetime = T0, title: str = "t1") -> Vote:
    return Vote(user_id=user, title_id=title, aspect="overall", score=score, voted_at=at)


# --- SQS -------------------------------------------------------------------------------


def test_batches_respect_entry_and_byte_limits() -> None:
    small = [(i, b"x") for i in range(25)]
    assert [len(g) for g in batches(small)] == [10, 10, 5]
    big = [(i, b"x" * 100 * 1024) for i in range(5)]
    groups = list(batches(big))
    assert [len(g) for g in groups] == [2, 2, 1]
    assert all(sum(len(b) for _, b in g) <= 256 * 1024 for g in groups)


@pytest.fixture
def sqs(mocked_aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        if not reply.get("Messages"):
            return bodies
        for message in reply["Messages"]:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_sqs_queue_splits_calls_at_ten_entries_and_256_kib(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="votes")["QueueUrl"]
    calls: list[tuple[int, int]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(
            (len(params["Entries"]), sum(len(e["MessageBody"]) for e in params["Entries"]))
        )

    sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", record)
    bodies = [f'{{"n":{i}}}'.encode() for i in range(12)]
    bodies += [b'"' + b"y" * (90 * 1024) + b'"' for _ in range(3)]
    SqsQueue(url, client=sqs).send(bodies)

    assert sorted(drain(sqs, url)) == sorted(b.decode() for b in bodies)
    assert all(n <= 10 and size <= 256 * 1024 for n, size in calls)
    assert len(calls) == 3  # 10 | 2 small + 2 large | 1 large


class FlakySqs:
    """Fails the listed entry ids on their first attempt, like SQS under pressure."""

    def __init__(self, fail_once: set[str], sender_fault: bool = False) -> None:
        self.fail_once = set(fail_once)
        self.sender_fault = sender_fault
        self.sent: list[str] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        failed = [e["Id"] for e in Entries if e["Id"] in self.fail_once]
        self.fail_once -= set(failed)
        self.sent += [e["MessageBody"] for e in Entries if e["Id"] not in failed]
        return {
            "Successful": [],
            "Failed": [
                {"Id": i, "SenderFault": self.sender_fault, "Code": "x", "Message": "m"}
                for i in failed
            ],
        }


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def backoff(self, base: float = 0.05) -> Backoff:
        return Backoff(base=base, sleep=self.sleep, rng=lambda: 1.0, clock=lambda: self.now)


def test_sqs_queue_retries_failed_entries_with_backoff() -> None:
    client = FlakySqs({"1", "3"})
    fake = FakeTime()
    SqsQueue("q", client=client, backoff=fake.backoff()).send([b"a", b"b", b"c", b"d"])
    assert sorted(client.sent) == ["a", "b", "c", "d"]
    assert fake.waits == [0.05]


def test_sqs_queue_gives_up_within_its_budget_and_on_sender_fault() -> None:
    class Never(FlakySqs):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:
            self.fail_once = {e["Id"] for e in Entries}
            return super().send_message_batch(QueueUrl, Entries)

    fake = FakeTime()
    with pytest.raises(QueueUnavailable, match="1 of 1"):  # the budget counts a 3 s attempt
        SqsQueue("q", client=Never(set()), budget=4.0, backoff=fake.backoff()).send([b"a"])
    assert fake.waits == [0.05, 0.1, 0.2, 0.4]  # the next pause (0.8) + 3 s would pass it
    with pytest.raises(QueueUnavailable, match="rejected"):
        SqsQueue("q", client=FlakySqs({"0"}, sender_fault=True)).send([b"a"])


class SlowSqs(FlakySqs):
    """Every call takes ``seconds`` of the fake clock (a slow SQS) and succeeds."""

    def __init__(self, fake: FakeTime, seconds: float) -> None:
        super().__init__(set())
        self.fake, self.seconds = fake, seconds
        self.entries: list[dict[str, Any]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        self.fake.now += self.seconds
        self.entries += Entries
        return super().send_message_batch(QueueUrl, Entries)


def test_a_send_to_several_groups_is_bounded_in_total_time() -> None:
    fake = FakeTime()
    slow = SlowSqs(fake, 2.0)
    queue = SqsQueue("q", client=slow, budget=5.0, backoff=fake.backoff())
    with pytest.raises(QueueUnavailable, match="10 of 30"):
        queue.send([f"{n}".encode() for n in range(30)])  # three groups of ten
    # the first call at 0 s, the second at 2 s (ends by 5 s); the third would start at 4 s
    # and could last 3 s: not started, and no retry either
    assert (queue.calls, fake.now, fake.waits) == (2, 4.0, [])
    assert fake.now <= queue.worst_case_seconds == 5.0


def test_the_first_call_always_starts_and_bounds_a_tiny_budget() -> None:
    fake = FakeTime()
    queue = SqsQueue("q", client=SlowSqs(fake, 0.5), budget=0.0, backoff=fake.backoff())
    queue.send([b"a"])
    assert queue.calls == 1 and queue.worst_case_seconds == 3.0  # one attempt's timeouts


def test_delay_seconds_goes_on_every_entry_within_sqs_limits() -> None:
    fake = FakeTime()
    slow = SlowSqs(fake, 0.0)
    SqsQueue("q", client=slow, backoff=fake.backoff()).send([b"a", b"b"], delay_seconds=7)
    SqsQueue("q", client=slow, backoff=fake.backoff()).send([b"c"], delay_seconds=5000)
    SqsQueue("q", client=slow, backoff=fake.backoff()).send([b"d"])
    delays = [(e["MessageBody"], e.get("DelaySeconds")) for e in slow.entries]
    assert delays == [("a", 7), ("b", 7), ("c", 900), ("d", None)]


def test_requeue_delays_grow_with_the_attempt_and_are_jittered() -> None:
    low = [requeue_delay(a, rng=lambda: 0.0) for a in range(1, 6)]
    high = [requeue_delay(a, rng=lambda: 1.0) for a in range(1, 6)]
    assert low == [2, 5, 10, 20, 40] and high == [5, 10, 20, 40, 80]  # half fixed, half random
    assert requeue_delay(20, rng=lambda: 1.0) == 900  # SQS's maximum


def test_sqs_queue_unavailable_on_client_and_connection_errors(sqs: Any) -> None:
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/nope"
    with pytest.raises(QueueUnavailable):
        SqsQueue(missing, client=sqs).send([b"a"])
    offline = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(QueueUnavailable):
        SqsQueue(missing, client=offline).send([b"a"])


# --- DynamoDB --------------------------------------------------------------------------


@pytest.fixture
def table(mocked_aws: None) -> DynamoVoteTable:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="votes",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    # moto implements UpdateItem conditions, not PartiQL ones (tests/unit/test_partiql.py)
    reports.clear()
    return DynamoVoteTable("votes", client=client, shards=4, path="classic", publish=reports.append)


reports: list[WriteReport] = []


def key(v: Vote) -> dict[str, Any]:
    return {
        "pk": {"S": partition_key(v.title_id, v.user_id, 4)},
        "sk": {"S": f"{v.aspect}#{v.user_id}"},
    }


def stored(table: DynamoVoteTable, v: Vote) -> dict[str, Any]:
    item = table._client.get_item(TableName="votes", Key=key(v))["Item"]
    return {"score": int(item["score"]["N"]), "voted_at": item["voted_at"]["S"]}


def test_last_writer_wins_whatever_the_arrival_order(table: DynamoVoteTable) -> None:
    later = T0 + timedelta(seconds=1)
    assert table.put_latest([vote(score=2, at=later)]) == []
    assert table.put_latest([vote(score=5, at=T0)]) == []  # older: ignored, not a failure
    assert stored(table, vote()) == {"score": 2, "voted_at": "2026-01-01T00:00:01.000000+00:00"}
    assert table.put_latest([vote(score=4, at=later)]) == []  # same instant, higher score wins
    assert stored(table, vote())["score"] == 4
    assert table.put_latest([vote(score=1, at=later)]) == []  # same instant, lower score loses
    assert stored(table, vote())["score"] == 4


def test_rewrites_are_idempotent_and_results_fan_out(table: DynamoVoteTable) -> None:
    votes = [vote(user=f"u{i}", score=1 + i % 5) for i in range(40)]
    votes.append(vote(user="other", title="t2", score=5))
    assert table.put_latest(votes) == []
    assert table.put_latest(votes) == []
    counts = table.counts("t1")
    assert sum(counts.values()) == 40
    assert counts == {("overall", s): 8 for s in range(1, 6)}
    shards = {partition_key("t1", f"u{i}", 4) for i in range(40)}
    assert len(shards) == 4  # one title's writes spread over every shard


def test_transient_errors_are_reported_by_index(table: DynamoVoteTable) -> None:
    real = table._client

    class Throttling:
        def update_item(self, **kwargs: Any) -> Any:
            if kwargs["Key"]["sk"]["S"] == "overall#u1":
                error = {"Error": {"Code": "ProvisionedThroughputExceededException"}}
                raise ClientError(error, "UpdateItem")
            return real.update_item(**kwargs)

    table._client = Throttling()
    assert list(table.put_latest([vote(user="u0"), vote(user="u1"), vote(user="u2")])) == [1]


# --- the classic path (UpdateItem with a ConditionExpression) against moto ---------------


def test_classic_path_newer_wins_older_loses_and_a_missing_item_is_inserted_again(
    table: DynamoVoteTable,
) -> None:
    later = T0 + timedelta(seconds=1)
    assert table.put_latest([vote(score=2, at=T0)]) == []
    assert table.put_latest([vote(score=5, at=later)]) == []  # newer wins
    assert table.put_latest([vote(score=1, at=T0)]) == []  # older loses, settled
    assert stored(table, vote()) == {"score": 5, "voted_at": "2026-01-01T00:00:01.000000+00:00"}
    table._client.delete_item(TableName="votes", Key=key(vote()))  # e.g. the canary's cleanup
    assert table.put_latest([vote(score=1, at=T0)]) == []  # gone: the vote is stored again
    assert stored(table, vote()) == {"score": 1, "voted_at": "2026-01-01T00:00:00.000000+00:00"}
    item = table._client.get_item(TableName="votes", Key=key(vote()))["Item"]
    assert item["write_path"] == {"S": "classic"}
    assert {k: item[k]["S"] for k in ("title_id", "user_id", "aspect")} == {
        "title_id": "t1",
        "user_id": "u1",
        "aspect": "overall",
    }
    assert [r.votes for r in reports] == [1, 1, 1, 1] and {r.path for r in reports} == {"classic"}
    assert [r.fallback_votes for r in reports] == [0, 0, 0, 0]  # chosen, not fallen back to
    # the units DynamoDB reports (moto says 0.5 for a stored write), and 1 for the losing
    # one, which AWS bills but whose error carries no ConsumedCapacity
    units = [r.write_units for r in reports]
    assert units[2] == 1.0 and all(u > 0 for u in units)


def test_classic_path_reads_the_stored_item_on_a_failed_condition(table: DynamoVoteTable) -> None:
    """ALL_OLD as moto answers it: the losing write sees the item that beat it."""
    later = T0 + timedelta(seconds=1)
    table.put_latest([vote(score=2, at=later)])
    request = upsert_request("votes", vote(score=4, at=T0), 4)
    with pytest.raises(ClientError) as failed:
        table._client.update_item(**request)
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert failed.value.response["Item"]["score"] == {"N": "2"}


def test_the_old_path_name_putitem_selects_the_classic_path() -> None:
    assert write_path("putitem") == "classic" and write_path("partiql") == "partiql"
    with pytest.raises(ValueError, match="write path must be one of"):
        write_path("scan")
