"""The AWS side of `votectl canary`, piece by piece: the event it invokes the receiver with (the
real receiver takes it), how it chooses between the front door and an invoke, its HTTP send
(against a real `votectl up`), and its reads and deletes in DynamoDB (moto, a deployed stack)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from lambdas import receiver
from lambdas.adapters import DynamoVoteTable
from lambdas.contract import Vote
from tests.functional.conftest import Up, load_event
from votectl.aws.canary import AwsProbe, receiver_event
from votectl.aws.deploy import Hooks, deploy
from votectl.aws.ops import AwsOperations
from votectl.aws.session import Aws
from votectl.aws.stack import DeployedStack
from votectl.config import Stage
from votectl.local.queue import SqliteQueue

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

VOTE = {"user_id": "votectl-canary-x", "title_id": "votectl-canary-x", "aspect": "overall",
        "score": 3, "voted_at": "2026-01-01T00:00:00Z"}  # fmt: skip
CLAIMS = {"sub": "votectl-canary-x", "iss": "https://issuer.example", "aud": "votes"}


def stack(endpoint: str | None) -> DeployedStack:
    resources = {"ReceiverFunction": "votectl-t-receiver", "VotesTable": "votectl-t-votes"}
    outputs = {"EndpointUrl": endpoint} if endpoint else {}
    return DeployedStack("votectl-t", "CREATE_COMPLETE", {}, resources, outputs, "us-east-1")


def test_the_invoke_event_is_shaped_like_a_real_authorized_http_api_event() -> None:
    real = load_event("apigw-http-api-v2-jwt.json")
    made = receiver_event(b"{}", "rid", CLAIMS)
    assert set(made) == set(real)
    assert set(made["requestContext"]) == set(real["requestContext"])
    assert set(made["requestContext"]["http"]) == set(real["requestContext"]["http"])
    assert set(made["requestContext"]["authorizer"]["jwt"]) == {"claims", "scopes"}
    assert "authorizer" not in receiver_event(b"{}", "rid", None)["requestContext"]


def test_the_real_receiver_takes_the_invoke_event_and_honours_its_claims(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "votes.db", "votes")
    handle = receiver.make_handler(queue)
    body = json.dumps(VOTE).encode()
    reply = handle(receiver_event(body, "votectl-canary-rid", CLAIMS), None)
    assert reply["statusCode"] == 202, reply
    assert json.loads(reply["body"])["request_id"] == "votectl-canary-rid"
    (message,) = queue.receive(10, wait_seconds=0)
    votes = msgspec.json.decode(message.body)["votes"]
    assert [v["user_id"] for v in votes] == ["votectl-canary-x"]
    other = {**CLAIMS, "sub": "someone-else"}
    assert handle(receiver_event(body, "rid2", other), None)["statusCode"] == 403
    queue.close()


@pytest.mark.parametrize(
    "endpoint_url, front_door, auth, token, via, note",
    [
        (None, "https://a1.execute-api.us-east-1.amazonaws.com", "none", None, "http", None),
        (None, "https://a1.execute-api.us-east-1.amazonaws.com", "jwt", "t.e.s", "http", None),
        (None, "https://a1.execute-api.us-east-1.amazonaws.com", "jwt", None, "invoke",
         "no --token"),
        ("http://127.0.0.1:5000", "https://a1.execute-api.us-east-1.amazonaws.com", "none", None,
         "invoke", "is AWS's"),
        ("http://127.0.0.1:5000", None, "none", None, "invoke", "no front door URL"),
    ],
)  # fmt: skip
def test_the_probe_posts_where_it_can_and_invokes_otherwise(
    endpoint_url: str | None,
    front_door: str | None,
    auth: str,
    token: str | None,
    via: str,
    note: str | None,
) -> None:
    stage = Stage(name="t", region="us-east-1", endpoint_url=endpoint_url, auth=auth)
    probe = AwsProbe(Aws(stage), stack(front_door), stage, token)
    assert probe.via == via
    assert probe.door == (front_door if via == "http" else "votectl-t-receiver")
    assert (note is None and not probe.notes) or any(note in n for n in probe.notes)


def test_the_probe_posts_to_a_real_front_door(up_factory: Callable[..., Up]) -> None:
    up = up_factory()
    stage = Stage(name="t", region="us-east-1")
    probe = AwsProbe(Aws(stage), stack(up.url), stage, None)
    sent = probe.send(json.dumps(VOTE).encode(), VOTE["user_id"])
    assert sent.status == 202 and sent.request_id
    refused = probe.send(json.dumps({**VOTE, "score": 9}).encode(), VOTE["user_id"])
    assert refused.status == 400 and refused.error


def test_the_probe_reads_the_writers_items_and_deletes_them(
    mocked_aws: None, wheel_cache: Path, tmp_path: Path
) -> None:
    stage = Stage(name="dev", region="us-east-1")
    aws = Aws(stage)
    hooks = Hooks(confirm=lambda changes: True, poll_seconds=0)
    assert deploy(aws, hooks, out_dir=tmp_path / "dist").outcome == "deployed"
    ops = AwsOperations(stage, aws)
    probe = ops.probe(None)
    assert probe.via == "invoke"  # moto reports no front door URL
    table_name = ops.stack.physical("VotesTable")
    # the writer's own item, keys and all (its conditional PutItem path: moto's PartiQL
    # parser cannot run the INSERT in-process)
    table = DynamoVoteTable(
        table_name, client=aws.client("dynamodb"), shards=stage.table_shards, path="classic"
    )
    vote = msgspec.json.decode(json.dumps(VOTE), type=Vote)
    assert table.put_latest([vote]) == []
    stored = probe.read(VOTE["user_id"], VOTE["title_id"], "overall")
    # the writer marks its items with the path that wrote them, and the probe reads it
    assert stored is not None and (stored.score, stored.write_path) == (3, "classic")
    probe.delete(VOTE["user_id"], VOTE["title_id"], "overall")
    assert probe.read(VOTE["user_id"], VOTE["title_id"], "overall") is None
