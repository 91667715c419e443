"""The canary's judgement without I/O: where a vote stopped, given the queues; the token's
subject; the failure line."""

from __future__ import annotations

import base64
import json

import pytest

from votectl.canary import HOPS, CanaryFailed, CanaryResult, _landed, _where, token_subject
from votectl.errors import UsageError
from votectl.model import QueueStat

BEFORE = {"votes-dlq": 2, "ready-dlq": 0}


def stats(
    votes: int = 0, votes_dlq: int = 2, ready: int = 0, ready_dlq: int = 0
) -> list[QueueStat]:
    return [
        QueueStat("votes", votes, 0, 0, False),
        QueueStat("votes-dlq", votes_dlq, 0, 0, True, "votes"),
        QueueStat("ready", 0, ready, 0, False),
        QueueStat("ready-dlq", ready_dlq, 0, 0, True, "ready"),
    ]


@pytest.mark.parametrize(
    "queues, hop, why",
    [
        (stats(votes_dlq=3), "processor", "votes-dlq"),
        (stats(ready_dlq=1), "writer", "ready-dlq"),
        (stats(votes=1), "processor", "still in the votes queue"),
        (stats(ready=1), "writer", "still in the ready queue"),
        (stats(), "table", "queues are empty"),
        (stats(votes=1, ready_dlq=1), "writer", "ready-dlq"),  # a DLQ that grew says most
    ],
)
def test_where_a_vote_stopped_follows_the_queues(
    queues: list[QueueStat], hop: str, why: str
) -> None:
    found, error = _where(queues, BEFORE, "first vote not in the table")
    assert (found, why in error) == (hop, True)
    assert found in HOPS and error.startswith("first vote not in the table")


def jwt(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{body}.c2ln"


def test_the_token_subject_is_read_and_a_bad_token_is_a_usage_error() -> None:
    assert token_subject(jwt({"sub": " votectl-canary "})) == "votectl-canary"
    for bad in ("nonsense", jwt({"iss": "x"}), jwt({"sub": ""}), jwt({"sub": 5})):
        with pytest.raises(UsageError):
            token_subject(bad)


def test_a_failure_is_one_line_naming_the_hop_with_its_hint() -> None:
    result = CanaryResult(
        False, "r", "http", "http://x", "u", "t", [], None, [], 0, 0, hop="writer",
        error="first vote not in the table",
    )  # fmt: skip
    failed = CanaryFailed(result)
    assert failed.exit_code == 1 and "\n" not in str(failed)
    assert str(failed).startswith("canary: the vote stopped at the writer:")
    assert "votectl logs --function writer" in failed.hint


@pytest.mark.parametrize(
    "queues, landed",
    [
        (stats(votes_dlq=3), "a DLQ gained messages (votes-dlq +1)"),
        (stats(ready_dlq=2), "a DLQ gained messages (ready-dlq +2)"),
        (stats(), None),  # no DLQ grew: the vote may still be written
        (stats(votes=1, votes_dlq=3), None),  # a DLQ grew, but a vote is still on its way
        (stats(ready=1, ready_dlq=1), None),
    ],
)
def test_the_canary_stops_early_only_once_its_vote_can_be_nowhere_but_a_dlq(
    queues: list[QueueStat], landed: str | None
) -> None:
    assert _landed(queues, BEFORE) == landed
