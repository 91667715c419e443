"""A bounded redrive: against a moto server whose event source mappings stay enabled (so the
redriven messages fail again and come back), and the move-task path's errors with Stubber."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from votectl.aws.ops import AwsOperations
from votectl.aws.session import Aws, no_such_action
from votectl.aws.stack import DeployedStack
from votectl.config import Stage
from votectl.errors import AwsError

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def sqs_at(url: str) -> Any:
    return boto3.client("sqs", endpoint_url=url, region_name="us-east-1")


def depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def test_redrive_ends_and_says_the_messages_came_back(cli: Any, moto_url: str) -> None:
    """moto invokes the (failing) processor on every send: the messages return to the DLQ."""
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    assert json.loads(cli("deploy", *target, "--yes", "--json").stdout)["outcome"] == "deployed"
    sqs = sqs_at(moto_url)
    lam = boto3.client("lambda", endpoint_url=moto_url, region_name="us-east-1")
    assert all(
        m["State"] == "Enabled" for m in lam.list_event_source_mappings()["EventSourceMappings"]
    )
    urls = {u.rsplit("/", 1)[1]: u for u in sqs.list_queues()["QueueUrls"]}
    dlq = next(u for name, u in urls.items() if "VotesDlq" in name or name.endswith("votes-dlq"))
    votes = next(
        u for name, u in urls.items() if u != dlq and "otes" in name and "lq" not in name.lower()
    )
    for n in range(7):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"votes": [], "n": n}))

    done = cli("redrive", *target, "--queue", "votes", "--json", code=1)
    result = json.loads(done.stdout)
    assert (result["method"], result["moved"]) == ("receive-send-delete", 7)
    assert 1 <= result["came_back"] <= 7
    assert "came back to the DLQ: the consumer still fails them" in done.stderr
    assert f"moved 7; {result['came_back']} came back" in done.stderr
    # nothing lost, nothing duplicated: each message is in the DLQ or back in its queue
    assert depth(sqs, dlq) + depth(sqs, votes) == 7
    assert depth(sqs, dlq) >= result["came_back"]

    # peek: received, then visible again at once
    in_dlq = depth(sqs, dlq)
    peeked = json.loads(cli("queue", "peek", "votes-dlq", *target, "--json").stdout)["messages"]
    assert len(peeked) == in_dlq and {m["queue"] for m in peeked} == {"votes-dlq"}
    assert all(m["votes"] == 0 and m["receive_count"] >= 1 for m in peeked)
    visible = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(visible["Attributes"]["ApproximateNumberOfMessages"]) == in_dlq

    plan = json.loads(cli("redrive", *target, "--dry-run", "--json").stdout)
    assert plan["method"] == "dry-run" and plan["moved"] == 0
    would = {q["dlq"]: q["would_move"] for q in plan["queues"]}
    assert would["votes-dlq"] == depth(sqs, dlq)


def _client_error(status: int, code: str, request_id: str | None) -> ClientError:
    meta: dict[str, Any] = {"HTTPStatusCode": status}
    if request_id:
        meta["RequestId"] = request_id
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": meta}, "Op")


@pytest.mark.parametrize(
    ("status", "code", "request_id", "fallback"),
    [
        (400, "InvalidAction", "r1", True),  # AWS, query protocol
        (400, "UnknownOperationException", "r1", True),  # AWS, JSON protocol
        (501, "NotImplemented", None, True),  # LocalStack
        (500, "500", None, True),  # a moto server: its HTML error page, no AWS error document
        (404, "404", None, True),  # moto's answer to StartLiveTail
        (500, "InternalError", "r1", False),  # AWS failing: never a reason to fall back
        (500, "InternalFailure", "r1", False),
        (500, "500", "r1", False),  # a 500 with a request id came from AWS
        (400, "AWS.SimpleQueueService.UnsupportedOperation", "r1", False),  # a real answer
    ],
)
def test_only_no_such_action_falls_back(
    status: int, code: str, request_id: str | None, fallback: bool
) -> None:
    assert no_such_action(_client_error(status, code, request_id)) is fallback


def test_a_500_from_aws_stops_the_redrive_instead_of_falling_back(aws_env: dict[str, str]) -> None:
    stage = Stage(
        name="dev", region="us-east-1", endpoint_url="https://sqs-fips.us-east-1.amazonaws.com"
    )
    client = boto3.client("sqs", region_name="us-east-1")
    base, arn = "https://sqs.us-east-1.amazonaws.com/1/", "arn:aws:sqs:us-east-1:1:"

    class StubAws(Aws):
        def client(self, service: str) -> Any:
            return client

    ops = AwsOperations(stage, StubAws(stage), sleep=lambda s: None)
    ops.__dict__["stack"] = DeployedStack(
        "votectl-dev",
        "CREATE_COMPLETE",
        {},
        {"VotesQueue": base + "votes", "VotesDlq": base + "votes-dlq"},
        {},
        "us-east-1",
    )
    with Stubber(client) as stub:
        for name in ("votes-dlq", "votes"):
            stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn + name}})
        stub.add_client_error(
            "list_message_move_tasks",
            "InternalError",
            "We encountered an internal error",
            http_status_code=500,
            response_meta={"RequestId": "abc"},
        )
        with pytest.raises(AwsError, match="InternalError"):
            ops.redrive("votes")
        stub.assert_no_pending_responses()  # and no receive/send/delete was attempted
