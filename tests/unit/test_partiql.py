"""The PartiQL write path with botocore's Stubber: moto implements neither PartiQL's
DuplicateItem on INSERT nor conditions in an UPDATE's WHERE, so the documented responses
(BatchStatementError codes, in statement order) are stubbed here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lambdas.adapters import STATEMENTS_PER_CALL, Backoff, DynamoVoteTable
from lambdas.contract import Vote
from lambdas.deadline import Deadline
from lambdas.writes import WriteReport, upsert_request
from tests.unit.test_adapters import FakeTime

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def vote(user: str, score: int = 3) -> Vote:
    return Vote(user_id=user, title_id="t1", aspect="overall", score=score, voted_at=T0)


@pytest.fixture
def stubbed() -> tuple[DynamoVoteTable, Stubber, FakeTime]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    clock = FakeTime()
    backoff = Backoff(base=0.02, cap=0.32, sleep=clock.sleep, rng=lambda: 1.0)
    table = DynamoVoteTable("votes", client=client, shards=4, path="partiql", backoff=backoff)
    stubber = Stubber(client)
    stubber.activate()
    return table, stubber, clock


def statements(*kinds: str) -> dict[str, Any]:
    """Expected parameters: one statement per kind ("INSERT"/"UPDATE"), in order; every call
    asks for its consumed capacity, every UPDATE for the stored item if its condition fails."""
    return {
        "Statements": [
            {"Statement": _Starts(k), "Parameters": ANY}
            | ({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if k == "UPDATE" else {})
            for k in kinds
        ],
        "ReturnConsumedCapacity": "TOTAL",
    }


class _Starts(str):
    """Compares equal to any statement starting with the given verb."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str.__str__(self))

    __hash__ = str.__hash__


STORED = {"score": {"N": "5"}, "voted_at": {"S": "2026-01-02T00:00:00.000000+00:00"}}
LATER = "LATER"  # ConditionalCheckFailed with the stored item (ALL_OLD): a later vote is stored


def answer(*codes: str | None, units: float | None = None) -> dict[str, Any]:
    def one(code: str | None) -> dict[str, Any]:
        if code is None:
            return {"TableName": "votes"}
        if code == LATER:
            return {
                "TableName": "votes",
                "Error": {"Code": "ConditionalCheckFailed", "Item": STORED},
            }
        return {"TableName": "votes", "Error": {"Code": code}}

    reply: dict[str, Any] = {"Responses": [one(c) for c in codes]}
    if units is not None:
        reply["ConsumedCapacity"] = [{"TableName": "votes", "CapacityUnits": units}]
    return reply


def test_inserts_then_updates_only_the_duplicates(stubbed: Any) -> None:
    table, stubber, clock = stubbed
    stubber.add_response(
        "batch_execute_statement",
        answer(None, "DuplicateItem", None),
        statements("INSERT", "INSERT", "INSERT"),
    )
    stubber.add_response("batch_execute_statement", answer(LATER), statements("UPDATE"))
    assert table.put_latest([vote("a"), vote("b"), vote("c")]) == []
    stubber.assert_no_pending_responses()
    assert (table.calls, clock.waits) == (2, [])  # the UPDATE needs no pause


def test_update_carries_the_last_writer_wins_condition(stubbed: Any) -> None:
    table, stubber, _ = stubbed
    seen: list[dict[str, Any]] = []
    table._client.meta.events.register(
        "provide-client-params.dynamodb.BatchExecuteStatement",
        lambda params, **_: seen.append(params),
    )
    stubber.add_response("batch_execute_statement", answer("DuplicateItem"))
    stubber.add_response("batch_execute_statement", answer(None))
    assert table.put_latest([vote("a", score=4)]) == []
    update = seen[1]["Statements"][0]
    assert update["Statement"] == (
        'UPDATE "votes" SET "score" = ? SET "voted_at" = ? SET "write_path" = ? '
        'WHERE "pk" = ? AND "sk" = ? AND ("voted_at" < ? OR ("voted_at" = ? AND "score" < ?))'
    )
    at = {"S": "2026-01-01T00:00:00.000000+00:00"}
    score = {"N": "4"}
    assert update["Parameters"][:3] == [score, at, {"S": "partiql"}]
    assert update["Parameters"][4] == {"S": "overall#a"}
    assert update["Parameters"][5:] == [at, at, score]
    assert update["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    insert = seen[0]["Statements"][0]
    assert insert["Parameters"][-1] == {"S": "partiql"} and "'write_path': ?" in insert["Statement"]


def test_throttled_statements_are_retried_with_backoff_and_counted(stubbed: Any) -> None:
    table, stubber, clock = stubbed
    stubber.add_response(
        "batch_execute_statement",
        answer("ProvisionedThroughputExceeded", None, "ThrottlingError"),
        statements("INSERT", "INSERT", "INSERT"),
    )
    stubber.add_response(
        "batch_execute_statement", answer(None, "DuplicateItem"), statements("INSERT", "INSERT")
    )
    stubber.add_response("batch_execute_statement", answer(None), statements("UPDATE"))
    assert table.put_latest([vote("a"), vote("b"), vote("c")]) == []
    assert (table.calls, clock.waits) == (3, [0.02])


def test_gives_up_after_its_rounds_and_never_retries_what_cannot_succeed(stubbed: Any) -> None:
    table, stubber, clock = stubbed
    table._rounds = 3
    stubber.add_response(
        "batch_execute_statement", answer("AccessDenied", "ProvisionedThroughputExceeded")
    )
    for _ in range(2):
        stubber.add_response("batch_execute_statement", answer("ProvisionedThroughputExceeded"))
    assert table.put_latest([vote("bad"), vote("hot")]) == [0, 1]
    assert clock.waits == [0.02, 0.04]
    stubber.assert_no_pending_responses()


def test_a_throttled_call_fails_all_its_statements_transiently(stubbed: Any) -> None:
    table, stubber, _ = stubbed
    stubber.add_client_error(
        "batch_execute_statement", "ProvisionedThroughputExceededException", http_status_code=400
    )
    stubber.add_response("batch_execute_statement", answer(None, None))
    assert table.put_latest([vote("a"), vote("b")]) == []


class Context:
    """Lambda's context with a scripted remaining time (ms), one value per question."""

    def __init__(self, *remaining_ms: int) -> None:
        self.remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_retries_stop_at_the_deadline(stubbed: Any) -> None:
    table, stubber, clock = stubbed
    # margin 3.25 s; the call starts with 3.05 s left (room for one 3 s attempt), the retry
    # would need 0.02 s + 3 s with 2.95 s left
    context = Context(13_000, 6_300, 6_200)
    stubber.add_response("batch_execute_statement", answer("ProvisionedThroughputExceeded"))
    assert table.put_latest([vote("a")], Deadline.of(context, 4.0)) == [0]
    assert (table.calls, clock.waits) == (1, [])


def test_no_call_starts_that_the_deadline_cannot_fit(stubbed: Any) -> None:
    table, stubber, _ = stubbed
    # 3.5 s left less a quarter's margin: 2.6 s, no room for a 3 s attempt
    assert table.put_latest([vote("a"), vote("b")], Deadline.of(Context(3_500), 4.0)) == [0, 1]
    assert table.calls == 0
    stubber.assert_no_pending_responses()


def test_an_update_that_finds_no_item_inserts_again(stubbed: Any) -> None:
    """ConditionalCheckFailed without the stored item (ALL_OLD): the item is gone, not
    superseded; the vote gets its INSERT again."""
    table, stubber, _ = stubbed
    stubber.add_response("batch_execute_statement", answer("DuplicateItem"), statements("INSERT"))
    stubber.add_response(
        "batch_execute_statement", answer("ConditionalCheckFailed"), statements("UPDATE")
    )
    stubber.add_response("batch_execute_statement", answer(None), statements("INSERT"))
    assert table.put_latest([vote("a")]) == []
    stubber.assert_no_pending_responses()


def test_a_refused_update_falls_back_to_update_item_for_good(stubbed: Any) -> None:
    table, stubber, _ = stubbed
    reports: list[WriteReport] = []
    table._publish = reports.append
    stubber.add_response(
        "batch_execute_statement",
        answer(None, "DuplicateItem", units=2.0),
        statements("INSERT", "INSERT"),
    )
    stubber.add_response("batch_execute_statement", answer("ValidationError"), statements("UPDATE"))
    upsert = upsert_request("votes", vote("b"), 4)
    stubber.add_response(
        "update_item", {"ConsumedCapacity": {"TableName": "votes", "CapacityUnits": 1.0}}, upsert
    )
    assert table.put_latest([vote("a"), vote("b")]) == []
    assert table.serving == "classic" and upsert["ExpressionAttributeValues"][":path"] == {
        "S": "classic"
    }
    # the next call writes with UpdateItem from the start
    stubber.add_response("update_item", {}, upsert_request("votes", vote("c"), 4))
    assert table.put_latest([vote("c")]) == []
    stubber.assert_no_pending_responses()
    assert [(r.votes, r.write_units, r.fallback_votes, r.path) for r in reports] == [
        (2, 3.0, 1, "classic"),
        (1, 0.0, 1, "classic"),
    ]


def test_statements_go_in_calls_of_25(stubbed: Any) -> None:
    table, stubber, _ = stubbed
    for _ in range(3):  # equal calls: the threads may take the answers in any order
        stubber.add_response("batch_execute_statement", answer(*[None] * STATEMENTS_PER_CALL))
    assert table.put_latest([vote(f"u{i}") for i in range(3 * STATEMENTS_PER_CALL)]) == []
    assert table.calls == 3
    stubber.assert_no_pending_responses()
