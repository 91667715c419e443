"""The receiver behind a JWT authorizer: AWS-shaped authorizer events over a real SQLite queue."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lambdas import receiver
from lambdas.contract import decode_envelope
from tests.functional.conftest import http_event, load_event
from votectl.local.queue import SqliteQueue

VOTE = {"title_id": "t1", "aspect": "story", "score": 4}
CLAIMS = load_event("apigw-http-api-v2-jwt.json")["requestContext"]["authorizer"]["jwt"]["claims"]


@pytest.fixture
def queue(tmp_path: Path) -> SqliteQueue:
    return SqliteQueue(tmp_path / "votes.db", "votes")


def stored_users(queue: SqliteQueue) -> list[str]:
    return [v.user_id for m in queue.receive(100) for v in decode_envelope(m.body)[0]]


def post(queue: SqliteQueue, body: Any, claims: dict[str, str] | None = CLAIMS) -> dict[str, Any]:
    event = http_event("POST", "/votes", json.dumps(body), claims=claims)
    return receiver.make_handler(queue)(event, None)


def test_the_fixture_is_what_api_gateway_sends_to_an_authorized_route(queue: SqliteQueue) -> None:
    event = load_event("apigw-http-api-v2-jwt.json")
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert all(isinstance(v, str) for v in claims.values())  # API Gateway sends strings
    response = receiver.make_handler(queue)(copy.deepcopy(event), None)
    assert response["statusCode"] == 202, response["body"]
    assert stored_users(queue) == ["alice"]


def test_a_vote_without_user_id_takes_the_tokens_subject(queue: SqliteQueue) -> None:
    assert post(queue, VOTE)["statusCode"] == 202
    batch = {"votes": [VOTE, {**VOTE, "title_id": "t2", "user_id": "alice"}]}
    assert post(queue, batch)["statusCode"] == 202
    assert stored_users(queue) == ["alice", "alice", "alice"]


def test_a_body_user_id_must_be_the_subject_byte_for_byte(queue: SqliteQueue) -> None:
    response = post(queue, {**VOTE, "user_id": " alice "})
    assert response["statusCode"] == 403
    assert stored_users(queue) == []


@pytest.mark.parametrize("sub", [" bob ", "bob", "jos\u00e9", "jose\u0301"])
def test_the_tokens_subject_is_stored_byte_for_byte(queue: SqliteQueue, sub: str) -> None:
    assert post(queue, VOTE, {**CLAIMS, "sub": sub})["statusCode"] == 202
    assert stored_users(queue) == [sub]


@pytest.mark.parametrize(
    ("sub", "why"),
    [
        ("bo\x07b", "U+0007"),
        ("bo\x7fb", "control"),
        ("x" * 129, "1-128"),
        ("   ", "whitespace"),
        ("a\u200bb", "U+200B"),
    ],
)
def test_a_subject_the_contract_cannot_store_is_403_with_the_reason(
    queue: SqliteQueue, sub: str, why: str
) -> None:
    response = post(queue, VOTE, {**CLAIMS, "sub": sub})
    assert response["statusCode"] == 403
    payload = json.loads(response["body"])
    assert why in payload["error"] and payload["details"][0]["field"] == "sub"
    assert stored_users(queue) == []


@pytest.mark.parametrize(
    ("body", "index"),
    [
        ({**VOTE, "user_id": "mallory"}, None),
        ({"votes": [{**VOTE, "user_id": "alice"}, {**VOTE, "user_id": "bob"}]}, 1),
    ],
)
def test_a_vote_for_another_user_is_403_and_nothing_of_the_request_is_stored(
    queue: SqliteQueue, body: Any, index: int | None
) -> None:
    response = post(queue, body)
    assert response["statusCode"] == 403
    payload = json.loads(response["body"])
    assert "subject" in payload["error"]
    assert payload["details"] == [
        {"message": "is not the token's subject", "field": "user_id"}
        | ({} if index is None else {"index": index})
    ]
    assert stored_users(queue) == []


def test_claims_without_sub_are_403(queue: SqliteQueue) -> None:
    claims = {k: v for k, v in CLAIMS.items() if k != "sub"}
    response = post(queue, VOTE, claims)
    assert response["statusCode"] == 403
    assert "sub" in json.loads(response["body"])["error"]
    assert stored_users(queue) == []


def test_without_an_authorizer_the_body_user_id_stands_and_is_required(queue: SqliteQueue) -> None:
    assert post(queue, {**VOTE, "user_id": "bob"}, claims=None)["statusCode"] == 202
    missing = post(queue, VOTE, claims=None)
    assert missing["statusCode"] == 400
    assert json.loads(missing["body"])["details"][0]["field"] == "user_id"
    assert stored_users(queue) == ["bob"]


@pytest.mark.parametrize("body", ["{not json", '{"votes": "x"}', "[1, 2]"])
def test_bad_bodies_with_a_token_still_get_the_contracts_400(queue: SqliteQueue, body: str) -> None:
    event = http_event("POST", "/votes", body, claims=CLAIMS)
    assert receiver.make_handler(queue)(event, None)["statusCode"] == 400


def test_a_function_url_request_keeps_the_body_user_id_byte_for_byte(queue: SqliteQueue) -> None:
    """A Function URL front door has no authorizer: the body's user_id stands, as sent."""
    for user in (" bob ", "bob"):
        body = json.dumps({**VOTE, "user_id": user})
        event = http_event("POST", "/votes", body, template="lambda-function-url.json")
        assert receiver.make_handler(queue)(event, None)["statusCode"] == 202
    assert stored_users(queue) == [" bob ", "bob"]
