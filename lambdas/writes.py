"""One vote's write as DynamoDB is sent it, on each write path, and what a write reports.

- ``partiql`` (default): BatchExecuteStatement, 25 statements a call. A vote is first an
  INSERT, refused with DuplicateItem iff the key exists (PartiQL insert:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.insert.html);
  a duplicate becomes a conditional UPDATE whose WHERE names the whole primary key and the
  last-writer-wins rule (PartiQL update: ``UPDATE table [SET | REMOVE] path [= data] [...]
  WHERE condition [RETURNING returnvalues]``, several SET clauses allowed, the condition
  resolving to one primary key:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.update.html).
  The UPDATE asks ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` (a BatchStatementRequest
  member: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchStatementRequest.html):
  a ConditionalCheckFailed carrying the stored ``Item`` means a later or equal vote is stored;
  one without it means the item is gone (an UPDATE never creates one), and the vote is
  INSERTed again.
- ``classic``: one UpdateItem per vote with a ConditionExpression, ``attribute_not_exists(pk)
  OR`` the last-writer-wins rule: it creates a missing item and replaces an older one in one
  call, one write unit (UpdateItem:
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html). The
  writer falls back to it when DynamoDB refuses a PartiQL statement with a ValidationError.

Every item records the path that last wrote it in ``write_path``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from lambdas.contract import Vote, stored_voted_at

__all__ = [
    "CLASSIC",
    "PARTIQL",
    "STATEMENTS_PER_CALL",
    "WRITE_PATHS",
    "WriteReport",
    "Statements",
    "insert_request",
    "partition_key",
    "sort_key",
    "update_request",
    "upsert_request",
    "write_path",
]

PARTIQL, CLASSIC = "partiql", "classic"
WRITE_PATHS = (PARTIQL, CLASSIC)
_ALIASES = {"putitem": CLASSIC}  # the classic path's name before the fallback existed
STATEMENTS_PER_CALL = 25
"""BatchExecuteStatement's limit: "Minimum number of 1 item. Maximum number of 25 items"
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchExecuteStatement.html)."""

# Write iff absent, or the stored (voted_at, score) is less than the new one.
LATEST_WINS = "attribute_not_exists(pk) OR #at < :at OR (#at = :at AND #score < :score)"


def write_path(name: str) -> str:
    """The write path ``name`` selects (env WRITE_PATH); ValueError for any other name."""
    path = _ALIASES.get(name, name)
    if path not in WRITE_PATHS:
        raise ValueError(f"write path must be one of {WRITE_PATHS}, not {name!r}")
    return path


def partition_key(title_id: str, user_id: str, shards: int) -> str:
    return f"{title_id}#{zlib.crc32(user_id.encode()) % shards}"


def sort_key(aspect: str, user_id: str) -> str:
    return f"{aspect}#{user_id}"


@dataclass(frozen=True)
class Statements:
    """The two PartiQL statement texts for one table; ``?`` placeholders, values apart."""

    insert: str
    update: str

    @classmethod
    def of(cls, table: str) -> Statements:
        item = (
            "{'pk': ?, 'sk': ?, 'title_id': ?, 'user_id': ?, 'aspect': ?, 'score': ?, "
            "'voted_at': ?, 'write_path': ?}"
        )
        return cls(
            insert=f'INSERT INTO "{table}" VALUE {item}',
            update=(
                f'UPDATE "{table}" SET "score" = ? SET "voted_at" = ? SET "write_path" = ? '
                'WHERE "pk" = ? AND "sk" = ? '
                'AND ("voted_at" < ? OR ("voted_at" = ? AND "score" < ?))'
            ),
        )


def _key(vote: Vote, shards: int) -> dict[str, Any]:
    return {
        "pk": {"S": partition_key(vote.title_id, vote.user_id, shards)},
        "sk": {"S": sort_key(vote.aspect, vote.user_id)},
    }


def insert_request(statements: Statements, vote: Vote, shards: int) -> dict[str, Any]:
    key = _key(vote, shards)
    values = [vote.title_id, vote.user_id, vote.aspect]
    return {
        "Statement": statements.insert,
        "Parameters": [
            key["pk"],
            key["sk"],
            *({"S": v} for v in values),
            {"N": str(vote.score)},
            {"S": stored_voted_at(vote.voted_at)},
            {"S": PARTIQL},
        ],
    }


def update_request(statements: Statements, vote: Vote, shards: int) -> dict[str, Any]:
    key = _key(vote, shards)
    at, score = {"S": stored_voted_at(vote.voted_at)}, {"N": str(vote.score)}
    return {
        "Statement": statements.update,
        "Parameters": [score, at, {"S": PARTIQL}, key["pk"], key["sk"], at, at, score],
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def upsert_request(table: str, vote: Vote, shards: int) -> dict[str, Any]:
    """UpdateItem keyword arguments: the classic path's one conditional write of ``vote``."""
    return {
        "TableName": table,
        "Key": _key(vote, shards),
        "UpdateExpression": (
            "SET #title = :title, #user = :user, #aspect = :aspect, #score = :score, "
            "#at = :at, #path = :path"
        ),
        "ConditionExpression": LATEST_WINS,
        "ExpressionAttributeNames": {
            "#title": "title_id",
            "#user": "user_id",
            "#aspect": "aspect",
            "#score": "score",
            "#at": "voted_at",
            "#path": "write_path",
        },
        "ExpressionAttributeValues": {
            ":title": {"S": vote.title_id},
            ":user": {"S": vote.user_id},
            ":aspect": {"S": vote.aspect},
            ":score": {"N": str(vote.score)},
            ":at": {"S": stored_voted_at(vote.voted_at)},
            ":path": {"S": CLASSIC},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        "ReturnConsumedCapacity": "TOTAL",
    }


@dataclass(frozen=True)
class WriteReport:
    """What one ``put_latest`` cost: the votes it settled (stored, or superseded by a later
    one), the write units DynamoDB consumed, and the votes the classic path wrote because a
    PartiQL statement was refused."""

    table: str
    path: str  # the path serving when the call ended
    votes: int
    write_units: float
    fallback_votes: int
    calls: int
