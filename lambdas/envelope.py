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
25,000 votes: under half the writer's 30 s timeout at the measured rate (README, "Capacity")."""


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
    room = max_bytes - 64  # the keys, brackets and attempt
    messages: list[bytes] = []
    chunk: list[bytes] = []
    ids: dict[str, None] = {}
    size = 0
    for vote, vote_ids in items:
        encoded = _encode(vote)
        new_ids = [i for i in vote_ids if i not in ids]
        grow = len(encoded) + 1 + sum(len(i) + 3 for i in new_ids)
        if chunk and (len(chunk) == max_votes or size + grow > room):
            messages.append(_message(chunk, ids, attempt))
            chunk, ids, size = [], {}, 0
            grow = len(encoded) + 1 + sum(len(i) + 3 for i in vote_ids)
            new_ids = list(vote_ids)
        chunk.append(encoded)
        ids.update(dict.fromkeys(new_ids))
        size += grow
    if chunk:
        messages.append(_message(chunk, ids, attempt))
    return messages


def _message(chunk: list[bytes], ids: dict[str, None], attempt: int) -> bytes:
    head = b'{"correlation_ids":' + _encode(list(ids)) + b',"attempt":' + str(attempt).encode()
    return head + b',"votes":[' + b",".join(chunk) + b"]}"
