"""The voter's identity from a verified token: JWT authorizer claims -> the votes' user_id.

A route with an HTTP API JWT authorizer hands the verified claims to the function at
``requestContext.authorizer.jwt.claims`` (payload format 2.0, every value a string); locally the
gateway verifies the token and puts them in the same place. With claims, every vote of the
request belongs to the token's ``sub``: a vote without ``user_id`` gets it, and a vote naming
another user refuses the whole request (403, nothing stored). The subject is used byte for
byte, as the body's user_id is (lambdas/identifiers.py): never stripped or normalised, so
``" bob "`` and ``"bob"`` are two voters; a subject the contract cannot store (empty, all
whitespace, control or invisible characters, over the length limit) is refused with 403 and
the reason, never rewritten. The same code runs behind API Gateway's JWT authorizer and
locally. Without an authorizer block (stage ``auth = "none"``, or a Function URL front door)
the body's ``user_id`` stands. Runs before validation, on the raw body.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lambdas.contract import Problem, refuse_repeated_keys
from lambdas.identifiers import subject

__all__ = ["Forbidden", "claim_votes", "token_subject"]

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class Forbidden(Exception):
    """A verified caller asking for what its token does not grant (HTTP 403)."""

    def __init__(self, error: str, problems: list[Problem] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems or []


def token_subject(event: dict[str, Any]) -> str | None:
    """The verified ``sub`` claim, or None when no JWT authorizer ran on the request."""
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims")
    if claims is None:
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not sub:
        raise Forbidden("the token has no sub claim, so it names no voter")
    try:
        return subject("sub", sub)
    except ValueError as exc:
        raise Forbidden(
            f"the token's subject cannot be stored as a user_id, so it is refused, not"
            f" rewritten ({exc})",
            [Problem(str(exc).partition(": ")[2], None, "sub")],
        ) from None


def claim_votes(event: dict[str, Any], body: bytes) -> bytes:
    """``body`` with every vote's user_id set to the token's subject; Forbidden if one differs.

    Without a token the body is returned as it came; a body that is not JSON, or not votes, is
    returned too, for the contract to explain.
    """
    sub = token_subject(event)
    if sub is None:
        return body
    try:
        raw = _decode(body)
    except (msgspec.DecodeError, RecursionError):  # the contract says what is wrong with it
        return body
    batch = isinstance(raw, dict) and isinstance(raw.get("votes"), list)
    votes = raw["votes"] if batch else [raw]
    filled = False
    problems: list[Problem] = []
    for index, vote in enumerate(votes):
        if not isinstance(vote, dict):
            continue
        given = vote.get("user_id")
        if given is None and "user_id" not in vote:
            vote["user_id"] = sub
            filled = True
        elif isinstance(given, str) and given != sub:
            problems.append(
                Problem("is not the token's subject", index if batch else None, "user_id")
            )
    if problems:
        raise Forbidden("a vote's user_id differs from the token's subject", problems)
    if not filled:
        return body
    if not batch and len(raw) > 1:  # members besides the user_id put in: no "{}" to splice
        return _with_user_id(body, sub)
    refuse_repeated_keys(
        body
    )  # decoding kept the last of a repeated key; re-encoding would hide it
    return _encode(raw)


def _with_user_id(body: bytes, sub: str) -> bytes:
    """A single vote's body (a JSON object with members and no user_id) with ``"user_id"``
    put first and every other byte as sent: the contract then sees the body as it came, a
    repeated key included, at the cost of a copy rather than a decode, a check and an encode."""
    start = len(body) - len(body.lstrip()) + 1  # just after the opening brace
    return b"".join((body[:start], b'"user_id":', _encode(sub), b",", body[start:]))
