"""A single vote's body behind a JWT authorizer keeps its bytes: the token's subject is put in
front of them, so the contract still refuses what it would refuse without a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas import receiver
from lambdas.contract import decode_envelope
from lambdas.identity import claim_votes
from tests.functional.conftest import http_event
from votectl.local.queue import SqliteQueue

CLAIMS = {"sub": "alice", "iss": "votectl-local"}


@pytest.fixture
def queue(tmp_path: Path) -> SqliteQueue:
    return SqliteQueue(tmp_path / "votes.db", "votes")


def post(queue: SqliteQueue, body: str) -> dict[str, Any]:
    return receiver.make_handler(queue)(http_event("POST", "/votes", body, claims=CLAIMS), None)


@pytest.mark.parametrize(
    "body",
    [
        '{"title_id":"t1","title_id":"t2","aspect":"story","score":4}',
        '{"title_id":"t1","aspect":"story","score":4,"score":5}',
        '{"votes":[{"title_id":"t1","aspect":"story","score":4,"aspect":"acting"}]}',
    ],
)
def test_a_repeated_key_is_still_refused_with_a_token(queue: SqliteQueue, body: str) -> None:
    response = post(queue, body)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["details"][0]["message"] == "repeated key"
    assert queue.receive(10) == []


@pytest.mark.parametrize("body", ["{}", " { } ", '\n\t{"score": 4}'])
def test_incomplete_votes_get_the_contracts_400_naming_a_field(
    queue: SqliteQueue, body: str
) -> None:
    response = post(queue, body)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["details"][0]["field"] in {"title_id", "aspect"}


@pytest.mark.parametrize("sub", ['a"b', "back\\slash", "jos\u00e9", "\u30c6\u30b9\u30c8"])
def test_a_subject_that_json_escapes_is_stored_as_it_is(tmp_path: Path, sub: str) -> None:
    queue = SqliteQueue(tmp_path / "votes.db", "votes")
    event = http_event(
        "POST", "/votes", ' {"title_id":"t1","aspect":"story","score":4}', claims={"sub": sub}
    )
    response = receiver.make_handler(queue)(event, None)
    assert response["statusCode"] == 202, response["body"]
    [message] = queue.receive(10)
    assert [v.user_id for v in decode_envelope(message.body)[0]] == [sub]


def test_the_body_is_kept_byte_for_byte_behind_the_user_id() -> None:
    event = {"requestContext": {"authorizer": {"jwt": {"claims": CLAIMS}}}}
    body = b' {"title_id": "t1",  "aspect":"story", "score": 4 }'
    assert claim_votes(event, body) == (
        b' {"user_id":"alice","title_id": "t1",  "aspect":"story", "score": 4 }'
    )
