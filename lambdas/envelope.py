"""Queue messages between the handlers: votes plus what travels with them.

The receiver's message is ``{"request_id": ..., "votes": [...]}`` (``contract.pack``). The
processor's ready messages add ``correlation_ids`` (the request ids of the votes inside, so the
writer logs the ids the receiver answered with) and ``attempt`` (how often the writer re-queued
these votes; past a limit it returns the message instead, and SQS's receive count takes over).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from lambdas.contract import Invalid, Problem, Vote, decode_envelope

__all__ = ["VOTES_PER_READY_MESSAGE", "Read", "pack_ready", "read"]

VOTES_PER_READY_MESSAGE = 250
"""At most this many votes per ready message. A full default writer batch (100 messages) is then
25,000 votes: under half the writer's 30 s timeout at the measured rate (docs/speed.md,
"AWS handlers")."""


class _Ready(msgspec.Struct, gc=False):
    votes: list[Vote]
    request_id: str = ""
    correlation_ids: list[str] = []
    attempt: int = 0


class _Header(msgspec.Struct, gc=False):
    request_id: str = ""
    correlation_ids: list[str] = []
    attempt: int = 0


_decode = msgspec.json.Decoder(_Ready).decode
_decode_header = msgspec.json.Decoder(_Header).decode
_encode = msgspec.json.Encoder().encode


class Read(NamedTuple):
    votes: list[Vote]
    problems: list[Problem]
    correlation_ids: list[str]
    attempt: int


def read(body: bytes | str) -> Read:
    """A message -> its valid votes, the problems of the rest, its correlation ids and attempt.

    Raises Invalid if the message is no vote envelope at all.
    """
    try:
        m = _decode(body)
    except msgspec.ValidationError:  # some vote is invalid: the contract says which
        votes, problems = decode_envelope(body)
        try:
            head = _decode_header(body)
        except msgspec.ValidationError:
            head = _Header()
        return Read(votes, problems, _ids(head.request_id, head.correlation_ids), head.attempt)
    except msgspec.DecodeError as exc:
        raise Invalid("message is not valid JSON", [Problem(message=str(exc))]) from None
    return Read(m.votes, [], _ids(m.request_id, m.correlation_ids), m.attempt)


def _ids(request_id: str, correlation_ids: list[str]) -> list[str]:
    if request_id and not correlation_ids:
        return [request_id]
    return correlation_ids


def pack_ready(
    items: Sequence[tuple[Vote, Sequence[str]]],
    max_bytes: int,
    max_votes: int = VOTES_PER_READY_MESSAGE,
    attempt: int = 0,
) -> list[bytes]:
    """Encode (vote, its correlation ids) pairs into messages of at most ``max_votes`` votes
    and ``max_bytes`` bytes, each naming the correlation ids of its own votes."""
    messages: list[bytes] = []
    for start in range(0, len(items), max_votes):
        messages += _pack(items[start : start + max_votes], max_bytes, attempt)
    return messages


def _pack(chunk: Sequence[tuple[Vote, Sequence[str]]], max_bytes: int, attempt: int) -> list[bytes]:
    """One message (one msgspec call for all its votes), or halves if it is too big."""
    lists = {id(ids): ids for _, ids in chunk}  # votes of one message share one list
    ids = list(dict.fromkeys(i for each in lists.values() for i in each))
    head = b'{"correlation_ids":' + _encode(ids) + b',"attempt":' + str(attempt).encode()
    body = head + b',"votes":' + _encode([vote for vote, _ in chunk]) + b"}"
    if len(body) <= max_bytes or len(chunk) == 1:
        return [body]
    half = len(chunk) // 2
    return _pack(chunk[:half], max_bytes, attempt) + _pack(chunk[half:], max_bytes, attempt)
