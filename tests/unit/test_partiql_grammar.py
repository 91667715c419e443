"""The writer's PartiQL statements against the grammar of the DynamoDB PartiQL reference.

moto's PartiQL has neither INSERT's DuplicateItem nor conditions in an UPDATE's WHERE, and the
stub endpoint reads statements the writer wrote: neither can tell whether AWS accepts the
text. This parser follows the reference's syntax, and nothing more:

- INSERT (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.insert.html):
  ``INSERT INTO table VALUE item``, the item one PartiQL tuple whose attribute names are in
  single quotes.
- UPDATE (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.update.html):
  ``UPDATE table [SET | REMOVE] path [= data] [...] WHERE condition [RETURNING returnvalues]``,
  ``returnvalues ::= ALL OLD | MODIFIED OLD | ALL NEW | MODIFIED NEW``; "This condition must
  resolve to a single primary key value": an equality on every key attribute, ANDed at the
  top of the condition.
- BatchExecuteStatement (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchExecuteStatement.html):
  1-25 statements; the request shape checked by botocore's own validator from the service
  model (ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, parameter types).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.validate import ParamValidator

from lambdas.contract import Vote
from lambdas.writes import STATEMENTS_PER_CALL, Statements, insert_request, update_request

KEY = ("pk", "sk")
_TOKEN = re.compile(
    r"\s*(?:(?P<dq>\"[^\"]+\")|(?P<sq>'[^']+')|(?P<op><=|>=|<>|[=<>{}(),:?])|(?P<word>[A-Za-z_]+))"
)


class Refused(Exception):
    """The text does not follow the reference's grammar."""


def tokens(text: str) -> list[str]:
    out, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if not match:
            raise Refused(f"unexpected text at {at}: {text[at : at + 20]!r}")
        out.append(match.group(match.lastgroup or ""))
        at = match.end()
    return out


@dataclass
class Parser:
    toks: list[str]
    at: int = 0
    placeholders: int = 0

    def peek(self) -> str | None:
        return self.toks[self.at] if self.at < len(self.toks) else None

    def take(self, *expected: str) -> str:
        tok = self.peek()
        if tok is None or (expected and tok.upper() not in expected):
            raise Refused(f"expected {' or '.join(expected) or 'more'}, found {tok!r}")
        self.at += 1
        return tok

    def identifier(self) -> str:  # a table or attribute path: "quoted" or bare
        tok = self.take()
        if tok.startswith('"'):
            return tok[1:-1]
        if re.fullmatch(r"[A-Za-z_]\w*", tok) and tok.upper() not in _KEYWORDS:
            return tok
        raise Refused(f"expected a name, found {tok!r}")

    def value(self) -> None:
        tok = self.take()
        if tok == "?":
            self.placeholders += 1
        elif not (tok.startswith("'") or re.fullmatch(r"\d+", tok)):
            raise Refused(f"expected a value, found {tok!r}")

    def end(self) -> None:
        if self.peek() is not None:
            raise Refused(f"unexpected {self.peek()!r} after the statement")


_KEYWORDS = {
    "INSERT",
    "INTO",
    "VALUE",
    "UPDATE",
    "SET",
    "REMOVE",
    "WHERE",
    "AND",
    "OR",
    "RETURNING",
}


def parse_insert(text: str) -> tuple[str, list[str], int]:
    """INSERT INTO table VALUE item -> (table, attribute names, placeholders)."""
    p = Parser(tokens(text))
    p.take("INSERT"), p.take("INTO")
    table = p.identifier()
    p.take("VALUE"), p.take("{")
    names = []
    while True:
        name = p.take()
        if not name.startswith("'"):
            raise Refused(f"attribute names go in single quotes: {name!r}")
        names.append(name[1:-1])
        p.take(":")
        p.value()
        if p.take(",", "}") == "}":
            break
    p.end()
    if len(set(names)) != len(names):
        raise Refused("an attribute twice in one item")
    return table, names, p.placeholders


def parse_update(text: str) -> tuple[str, list[str], set[str], int]:
    """UPDATE ... -> (table, paths set, key attributes the condition pins, placeholders)."""
    p = Parser(tokens(text))
    p.take("UPDATE")
    table = p.identifier()
    paths = []
    while p.peek() and p.peek().upper() in ("SET", "REMOVE"):  # type: ignore[union-attr]
        if p.take().upper() == "SET":
            paths.append(p.identifier())
            p.take("=")
            p.value()
        else:
            paths.append(p.identifier())
    if not paths:
        raise Refused("an UPDATE needs at least one SET or REMOVE")
    p.take("WHERE")
    pinned = conjunction(p)
    if p.peek() and p.peek().upper() == "RETURNING":  # type: ignore[union-attr]
        p.take("RETURNING"), p.take("ALL", "MODIFIED"), p.take("OLD", "NEW")
    p.end()
    return table, paths, pinned, p.placeholders


def conjunction(p: Parser) -> set[str]:
    """condition := term (AND term)* | condition OR condition; returns the attributes pinned
    by equality in top-level AND terms (the only ones that resolve a key)."""
    pinned, any_or = set(), False
    while True:
        pinned |= term(p)
        nxt = (p.peek() or "").upper()
        if nxt == "AND":
            p.take()
        elif nxt == "OR":
            p.take()
            any_or = True
        else:
            return set() if any_or else pinned


def term(p: Parser) -> set[str]:
    if p.peek() == "(":
        p.take("(")
        conjunction(p)  # whatever it pins is under parentheses: it may be ORed
        p.take(")")
        return set()
    name = p.identifier()
    op = p.take("=", "<", "<=", ">", ">=", "<>")
    p.value()
    return {name} if op == "=" else set()


# --- the writer's statements ---------------------------------------------------------------

VOTE = Vote("u1", "t1", "overall", 4, datetime(2026, 1, 1, tzinfo=UTC))
STATEMENTS = Statements.of("votectl-prod-votes")


def test_the_insert_follows_the_reference_and_binds_every_placeholder() -> None:
    request = insert_request(STATEMENTS, VOTE, 10)
    table, names, placeholders = parse_insert(request["Statement"])
    assert table == "votectl-prod-votes"
    assert set(KEY) <= set(names) and "write_path" in names
    assert placeholders == len(request["Parameters"]) == len(names)


def test_the_update_follows_the_reference_and_resolves_one_primary_key() -> None:
    request = update_request(STATEMENTS, VOTE, 10)
    table, paths, pinned, placeholders = parse_update(request["Statement"])
    assert table == "votectl-prod-votes"
    assert paths == ["score", "voted_at", "write_path"] and not set(paths) & set(KEY)
    assert pinned >= set(KEY)  # "must resolve to a single primary key value"
    assert placeholders == len(request["Parameters"])


def test_the_batch_request_is_one_the_api_accepts() -> None:
    model = botocore.session.get_session().get_service_model("dynamodb")
    shape = model.operation_model("BatchExecuteStatement").input_shape
    statements = [insert_request(STATEMENTS, VOTE, 10), update_request(STATEMENTS, VOTE, 10)]
    statements *= STATEMENTS_PER_CALL // 2
    report = ParamValidator().validate(
        {"Statements": statements, "ReturnConsumedCapacity": "TOTAL"}, shape
    )
    assert not report.has_errors(), report.generate_report()
    assert shape.members["Statements"].metadata.get("max") == STATEMENTS_PER_CALL == 25


@pytest.mark.parametrize(
    "text",
    [
        'UPDATE "t" SET "a" = ? WHERE "pk" = ? OR "sk" = ?',  # the key is not resolved
        'UPDATE "t" SET "a" = ? WHERE ("pk" = ? AND "sk" = ?)',  # key only under parentheses
        'UPDATE "t" WHERE "pk" = ? AND "sk" = ?',  # nothing to set
        'UPDATE "t" SET "a" = ?',  # no WHERE
        'UPDATE "t" SET "a" = ? WHERE "pk" = ? AND "sk" = ? RETURNING EVERYTHING',
        'UPDATE "t" SET "a" = ?, "b" = ? WHERE "pk" = ? AND "sk" = ?',  # SQL's comma list
    ],
)
def test_the_grammar_refuses_what_the_reference_does_not_allow(text: str) -> None:
    with pytest.raises(Refused):
        _, _, pinned, _ = parse_update(text)
        if not pinned >= set(KEY):
            raise Refused("the condition does not resolve one primary key")


@pytest.mark.parametrize(
    "text",
    [
        'INSERT INTO "t" VALUE {"pk": ?}',  # attribute names in double quotes
        "INSERT INTO \"t\" VALUES {'pk': ?}",  # VALUES
        "INSERT INTO \"t\" VALUE {'pk': ?, 'pk': ?}",
        "INSERT INTO \"t\" VALUE {'pk': ?} WHERE 'x' = ?",
    ],
)
def test_the_grammar_refuses_malformed_inserts(text: str) -> None:
    with pytest.raises(Refused):
        parse_insert(text)
