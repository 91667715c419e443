"""Fault injection on the real boto3 adapters and handlers, against the stub AWS endpoint
(benchmarks/aws_stub.py: DynamoDB and SQS over HTTP on 127.0.0.1, with throttling, stalls and
partial batch failures, and the writer's last-writer-wins conditions)."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from benchmarks.aws_stub import Stub, StubSettings
from lambdas import processor, receiver, writer
from lambdas.adapters import DynamoVoteTable, SqsQueue, client_config, partition_key, sort_key
from lambdas.contract import Vote, pack, stored_voted_at
from lambdas.envelope import pack_ready, read
from tests.functional.conftest import http_event, sqs_event
from votectl.local.queue import SqliteQueue

T0 = datetime(2026, 1, 1, tzinfo=UTC)
READY = "https://sqs.us-east-1.amazonaws.com/123456789012/ready"
VOTES = "https://sqs.us-east-1.amazonaws.com/123456789012/votes"


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    s = Stub(StubSettings(latency=0.0))
    url = s.start()
    yield s, url
    s.stop()


def client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=client_config(),
    )


def table(url: str, path: str = "partiql") -> DynamoVoteTable:
    return DynamoVoteTable("votes", client=client("dynamodb", url), shards=4, path=path)


def vote(user: str, score: int = 3, at: datetime = T0, title: str = "t1") -> Vote:
    return Vote(user_id=user, title_id=title, aspect="overall", score=score, voted_at=at)


def stored(s: Stub, v: Vote) -> tuple[str, int] | None:
    item = s.items.get((partition_key(v.title_id, v.user_id, 4), sort_key(v.aspect, v.user_id)))
    return None if item is None else (item["voted_at"], int(item["score"]))


class Context:
    """Lambda's context with a scripted remaining time (ms), one value per question."""

    aws_request_id = "inv-1"

    def __init__(self, *remaining_ms: int) -> None:
        self.remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


# --- last writer wins, exactly -----------------------------------------------------------


@pytest.mark.parametrize("path", ["partiql", "classic"])
def test_last_writer_wins_in_any_arrival_order_under_throttling(stub: Any, path: str) -> None:
    s, url = stub
    s.settings.throttle = 0.3
    rng = random.Random(7)
    sent = [
        vote(f"u{u}", score=rng.randint(1, 5), at=T0 + timedelta(seconds=rng.randint(0, 3)))
        for u in range(20)
        for _ in range(5)
    ]
    rng.shuffle(sent)
    t = table(url, path)
    for n in range(0, len(sent), 20):  # as successive batches
        batch = sent[n : n + 20]
        failed = t.put_latest(batch)
        while failed:  # what the writer would re-queue comes back later
            failed = [batch[i] for i in failed]
            batch, failed = failed, t.put_latest(failed)
    for u in range(20):
        mine = [v for v in sent if v.user_id == f"u{u}"]
        best = max(mine, key=lambda v: v.order_key)
        assert stored(s, best) == (stored_voted_at(best.voted_at), best.score)


# --- the writer: re-queue only what failed, hand back what it did not start ----------


def after_the_delays(ready: SqliteQueue, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ready queue's messages as a poller sees them once SQS's longest delay (900 s) is
    over: re-queued votes are delayed, never visible at once."""
    from votectl.local import queue as local_queue

    now = local_queue.boot_ms  # the queue's timers run on the boot clock
    monkeypatch.setattr(local_queue, "boot_ms", lambda: now() + 901_000)
    return ready.receive(10)


def ready_message(users: list[str], attempt: int = 0, ids: tuple[str, ...] = ("req-1",)) -> str:
    [body] = pack_ready([(vote(u), ids) for u in users], 256 * 1024, attempt=attempt)
    return body.decode()


def test_writer_requeues_only_the_votes_that_still_fail(
    stub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, url = stub
    s.settings.always_throttle = "bad"
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    handle = writer.make_handler(table(url), requeue=ready)
    event = sqs_event(
        [
            ready_message(["a1", "bad1", "a2"], ids=("req-A",)),
            ready_message(["b1", "b2"], ids=("req-B",)),
            ready_message(["bad2"], attempt=2, ids=("req-C",)),
        ]
    )
    assert handle(event, Context(30_000)) == {"batchItemFailures": []}
    assert {k[1] for k in s.items} == {"overall#a1", "overall#a2", "overall#b1", "overall#b2"}
    assert ready.receive(10) == []  # delayed (DelaySeconds), not back at once
    assert sum(q.delayed for q in ready.stats()) == 2
    back = after_the_delays(ready, monkeypatch)
    back = sorted((read(m.body) for m in back), key=lambda r: r.votes[0].user_id)
    assert [([v.user_id for v in r.votes], r.attempt, r.correlation_ids) for r in back] == [
        (["bad1"], 1, ["req-A"]),
        (["bad2"], 3, ["req-C"]),
    ]


def test_a_message_out_of_attempts_returns_whole_for_the_dlq(
    stub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, url = stub
    s.settings.always_throttle = "bad"
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    handle = writer.make_handler(table(url), requeue=ready, max_attempts=3)
    event = sqs_event([ready_message(["ok", "bad"], attempt=2), ready_message(["fine"])])
    assert handle(event, Context(30_000)) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert after_the_delays(ready, monkeypatch) == []
    assert len(s.items) == 2  # "ok" and "fine"; "ok" is re-written harmlessly on redelivery


def test_a_failed_requeue_returns_the_message_whole(stub: Any) -> None:
    s, url = stub
    s.settings.always_throttle = "bad"
    s.settings.sqs_fail = 1.0
    requeue = SqsQueue(READY, client=client("sqs", url), budget=0.0)
    handle = writer.make_handler(table(url), requeue=requeue)
    event = sqs_event([ready_message(["bad"]), ready_message(["good"])])
    assert handle(event, Context(30_000)) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


def test_the_deadline_hands_back_the_messages_not_started(
    stub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, url = stub
    ready = SqliteQueue(tmp_path / "ready.db", "ready")
    handle = writer.make_handler(table(url), requeue=ready, margin=4.0, slice_votes=2)
    event = sqs_event([ready_message([f"m{n}a", f"m{n}b"]) for n in range(4)])
    # time for the first two slices, then the deadline is as good as here; asked at the
    # start, then per slice and by the table before its call
    context = Context(30_000, 30_000, 30_000, 30_000, 30_000, 4_000)
    response = handle(event, context)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == ["msg-2", "msg-3"]
    assert {k[1] for k in s.items} == {"overall#m0a", "overall#m0b", "overall#m1a", "overall#m1b"}
    assert after_the_delays(ready, monkeypatch) == []  # nothing started was left half done


def test_no_time_at_all_returns_the_whole_batch_untouched(stub: Any) -> None:
    s, url = stub
    handle = writer.make_handler(table(url), margin=4.0)
    event = sqs_event([ready_message(["x"]), ready_message(["y"])])
    response = handle(event, Context(0))
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["msg-0", "msg-1"]
    assert s.calls["BatchExecuteStatement"] == 0


# --- SQS: partial batch failures, a stalled queue ------------------------------------------


def test_partial_send_message_batch_failures_are_retried_until_all_are_queued(stub: Any) -> None:
    s, url = stub
    s.settings.sqs_fail = 0.5
    q = SqsQueue(VOTES, client=client("sqs", url), budget=30.0)
    bodies = [f'{{"n":{n}}}'.encode() for n in range(40)]
    q.send(bodies)
    assert sorted(s.messages[VOTES]) == sorted(b.decode() for b in bodies)  # each exactly once
    assert q.calls > 4  # 4 calls of 10 would have done without failures


def test_receiver_answers_a_json_503_when_sqs_stalls(stub: Any) -> None:
    s, url = stub
    s.settings.sqs_stall = 10.0  # beyond the adapter's 2 s read timeout
    handle = receiver.make_handler(SqsQueue(VOTES, client=client("sqs", url), budget=0.0))
    body = json.dumps({"user_id": "u", "title_id": "t", "aspect": "story", "score": 3})
    response = handle(http_event("POST", "/votes", body), None)
    assert response["statusCode"] == 503
    error = json.loads(response["body"])["error"]
    assert "retry" in error and "Read timeout" in error


def test_receiver_answers_503_when_sqs_keeps_failing_part_of_a_batch(stub: Any) -> None:
    s, url = stub
    s.settings.sqs_fail = 1.0
    handle = receiver.make_handler(SqsQueue(VOTES, client=client("sqs", url), budget=0.2))
    body = json.dumps({"user_id": "u", "title_id": "t", "aspect": "story", "score": 3})
    response = handle(http_event("POST", "/votes", body), None)
    assert response["statusCode"] == 503
    assert "re-sending votes is always safe" in json.loads(response["body"])["error"]


# --- correlation ids: receiver -> processor -> writer ---------------------------------


def test_a_request_id_follows_its_votes_into_the_writers_log(
    stub: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s, url = stub
    votes_q = SqliteQueue(tmp_path / "votes.db", "votes")
    ready_q = SqliteQueue(tmp_path / "ready.db", "ready")
    event = http_event(
        "POST",
        "/votes",
        json.dumps({"votes": [{"user_id": "u", "title_id": "t", "aspect": "story", "score": 3}]}),
    )
    assert receiver.make_handler(votes_q)(event, None)["statusCode"] == 202
    request_id = event["requestContext"]["requestId"]
    logger = logging.getLogger("votectl.writer")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        records = [m.body for m in votes_q.receive(10)]
        assert processor.make_handler(ready_q)(sqs_event(records), None) == {
            "batchItemFailures": []
        }
        ready = [m.body for m in ready_q.receive(10)]
        assert [read(b).correlation_ids for b in ready] == [[request_id]]
        writer.make_handler(table(url))(sqs_event(ready), Context(30_000))
    finally:
        logger.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [written] = [line for line in lines if line["message"] == "batch written"]
    assert (written["function"], written["correlation_ids"]) == ("writer", [request_id])
    assert written["timestamp"].endswith("Z") and written["request_id"] == "inv-1"


# --- clients built at import, without AWS configuration too ---------------------------------


def _import(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    code = (
        "import lambdas.receiver as r, lambdas.processor as p, lambdas.writer as w;"
        "print([h.handler.__qualname__ for h in (r, p, w)])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "PYTHONPATH": str(Path(__file__).parents[2]), **env},
    )


def test_handlers_import_without_aws_configuration_and_build_on_first_call() -> None:
    result = _import({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("built_on_first_call.<locals>.entry") == 3


def test_handlers_build_their_clients_at_import_when_configured() -> None:
    env = {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "VOTES_QUEUE_URL": VOTES,
        "READY_QUEUE_URL": READY,
        "TABLE_NAME": "votes",
    }
    result = _import(env)
    assert result.returncode == 0, result.stderr
    assert "built_on_first_call" not in result.stdout
    assert result.stdout.count("make_handler.<locals>.handle") == 3


def test_pack_ready_bounds_votes_per_message() -> None:
    items = [(vote(f"u{i}"), [f"req-{i % 3}"]) for i in range(601)]
    messages = pack_ready(items, 256 * 1024, max_votes=250)
    assert [len(read(m).votes) for m in messages] == [250, 250, 101]
    assert read(messages[0]).correlation_ids == ["req-0", "req-1", "req-2"]
    assert pack(  # the receiver's envelope reads the same way: its request id is the correlation id
        [vote("u")], "req-9"
    ) and read(pack([vote("u")], "req-9")[0]).correlation_ids == ["req-9"]
