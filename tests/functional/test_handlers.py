"""The three handlers with real-shaped AWS events over real SQLite queues and table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lambdas import processor, receiver, writer
from lambdas.contract import decode_envelope
from lambdas.ports import QueueUnavailable
from tests.functional.conftest import http_event, sqs_event
from votectl.local.queue import SqliteQueue
from votectl.local.table import SqliteVoteTable

VOTE = {"user_id": "u1", "title_id": "t1", "aspect": "Story", "score": 4}


@pytest.fixture
def votes_queue(tmp_path: Path) -> SqliteQueue:
    return SqliteQueue(tmp_path / "votes.db", "votes")


@pytest.fixture
def ready_queue(tmp_path: Path) -> SqliteQueue:
    return SqliteQueue(tmp_path / "ready.db", "ready")


@pytest.fixture
def table(tmp_path: Path) -> SqliteVoteTable:
    return SqliteVoteTable(tmp_path / "table.db")


def bodies(queue: SqliteQueue) -> list[str]:
    return [m.body for m in queue.receive(100)]


@pytest.mark.parametrize("template", ["apigw-http-api-v2.json", "lambda-function-url.json"])
@pytest.mark.parametrize("b64", [False, True])
def test_receiver_enqueues_a_vote_and_answers_202(
    votes_queue: SqliteQueue, template: str, b64: bool
) -> None:
    handle = receiver.make_handler(votes_queue)
    response = handle(
        http_event("POST", "/votes", json.dumps(VOTE), b64=b64, template=template), None
    )
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"accepted": 1, "request_id": "id"}
    [message] = bodies(votes_queue)
    [vote] = decode_envelope(message)[0]
    assert (vote.aspect, vote.voted_at is not None) == ("story", True)


def test_receiver_packs_a_batch_into_few_messages(votes_queue: SqliteQueue) -> None:
    batch = {"votes": [{**VOTE, "user_id": f"user-{i}"} for i in range(500)]}
    response = receiver.make_handler(votes_queue)(
        http_event("POST", "/votes", json.dumps(batch)), None
    )
    assert json.loads(response["body"])["accepted"] == 500
    messages = bodies(votes_queue)
    assert len(messages) == 1
    assert len(decode_envelope(messages[0])[0]) == 500


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/votes", "{", 400),
        ("POST", "/votes", json.dumps({**VOTE, "score": 0}), 400),
        ("POST", "/votes", json.dumps({"votes": [VOTE, {**VOTE, "aspect": "x"}]}), 400),
        ("POST", "/votes", None, 400),
        ("POST", "/votes", "x" * (256 * 1024 + 1), 413),
        ("GET", "/votes", None, 405),
        ("POST", "/health", None, 405),
        ("POST", "/nope", "{}", 404),
        ("GET", "/health", None, 200),
    ],
)
def test_receiver_answers_bad_requests_with_json_and_stores_nothing(
    votes_queue: SqliteQueue, method: str, path: str, body: str | None, status: int
) -> None:
    response = receiver.make_handler(votes_queue)(http_event(method, path, body), None)
    assert response["statusCode"] == status
    payload = json.loads(response["body"])
    assert ("error" in payload) == (status >= 400)
    assert bodies(votes_queue) == []


def test_receiver_rejects_bad_base64(votes_queue: SqliteQueue) -> None:
    event = http_event("POST", "/votes", "x")
    event.update(body="***", isBase64Encoded=True)
    assert receiver.make_handler(votes_queue)(event, None)["statusCode"] == 400


class _DownQueue:
    max_message_bytes = 256 * 1024

    def send(self, bodies: object) -> None:
        raise QueueUnavailable("connection refused")


def test_receiver_answers_503_when_the_queue_is_down() -> None:
    response = receiver.make_handler(_DownQueue())(
        http_event("POST", "/votes", json.dumps(VOTE)), None
    )
    assert response["statusCode"] == 503
    assert "retry" in json.loads(response["body"])["error"]


def envelope(*votes: dict[str, object]) -> str:
    return json.dumps({"request_id": "r", "votes": list(votes)})


def test_processor_sanitises_deduplicates_and_forwards(ready_queue: SqliteQueue) -> None:
    early = {**VOTE, "score": 1, "voted_at": "2026-01-01T00:00:00Z"}
    late = {
        **VOTE,
        "title_id": f" {VOTE['title_id']} ",
        "score": 5,
        "voted_at": "2026-01-01T00:00:01Z",
    }
    other = {**VOTE, "aspect": "acting"}
    event = sqs_event([envelope(late, other), envelope(early)])
    assert processor.make_handler(ready_queue)(event, None) == {"batchItemFailures": []}
    forwarded = [v for m in bodies(ready_queue) for v in decode_envelope(m)[0]]
    assert sorted((v.aspect, v.score) for v in forwarded) == [("acting", 4), ("story", 5)]
    assert all(v.voted_at is not None for v in forwarded)  # stamped from SentTimestamp


def test_processor_drops_what_can_never_be_valid(
    ready_queue: SqliteQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sqs_event(["not json", envelope({**VOTE, "score": 9}, VOTE)])
    counted: list[tuple[str, int]] = []
    handle = processor.make_handler(ready_queue, lambda stage, n: counted.append((stage, n)))
    assert handle(event, None) == {"batchItemFailures": []}
    assert counted == [("processor", 1), ("processor", 1)]
    assert len([v for m in bodies(ready_queue) for v in decode_envelope(m)[0]]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rejected = [line for line in lines if line["message"] == "votes rejected"]
    assert [(r["function"], r["level"], r["message_id"]) for r in rejected] == [
        ("processor", "WARNING", "msg-0"),
        ("processor", "WARNING", "msg-1"),
    ]


def test_processor_reports_contributing_records_when_the_ready_queue_is_down() -> None:
    event = sqs_event([envelope(VOTE), "garbage", envelope({**VOTE, "aspect": "sound"})])
    response = processor.make_handler(_DownQueue())(event, None)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-2"}]
    }


def test_writer_upserts_last_writer_wins_and_is_idempotent(table: SqliteVoteTable) -> None:
    handle = writer.make_handler(table)
    new = {**VOTE, "aspect": "story", "score": 2, "voted_at": "2026-01-02T00:00:00Z"}
    old = {**VOTE, "aspect": "story", "score": 5, "voted_at": "2026-01-01T00:00:00Z"}
    assert handle(sqs_event([envelope(new)]), None) == {"batchItemFailures": []}
    handle(sqs_event([envelope(old)]), None)  # a late, older vote
    handle(sqs_event([envelope(new), envelope(new)]), None)  # redelivery
    assert table.count() == 1
    jan_2 = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp()) * 1_000_000
    assert table.get("u1", "t1", "story") == (2, jan_2)


class _FlakyTable:
    """A table whose every other write fails transiently, as DynamoDB throttling would."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def put_latest(self, votes: list, deadline: object = None) -> list[int]:  # type: ignore[type-arg]
        self.written += [v.user_id for i, v in enumerate(votes) if i % 2 == 0]
        return [i for i in range(len(votes)) if i % 2 == 1]


def test_writer_without_a_ready_queue_returns_the_records_whose_votes_failed() -> None:
    records = [envelope({**VOTE, "user_id": f"u{i}"}) for i in range(4)]
    response = writer.make_handler(_FlakyTable())(sqs_event(records), None)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "msg-1"}, {"itemIdentifier": "msg-3"}]
    }


def test_rejections_become_a_cloudwatch_embedded_metric(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.batch import emf_count

    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    emf_count("processor", 3)
    line = json.loads(capsys.readouterr().out)
    assert line["RejectedVotes"] == 3 and line["FunctionName"] == "processor"
    [metric] = line["_aws"]["CloudWatchMetrics"]
    assert metric["Metrics"] == [{"Name": "RejectedVotes", "Unit": "Count"}]
    assert metric["Dimensions"] == [["FunctionName"]]


def test_two_stages_count_their_rejections_apart(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Lambda the dimension is the deployed function (Lambda's AWS_LAMBDA_FUNCTION_NAME,
    ``<stack>-processor``), so two stacks in one account feed two alarms, not one."""
    from lambdas.batch import emf_count

    seen = []
    for stack in ("votectl-prod", "votectl-test"):
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"{stack}-processor")
        emf_count("processor", 1)
        seen.append(json.loads(capsys.readouterr().out)["FunctionName"])
    assert seen == ["votectl-prod-processor", "votectl-test-processor"]
