"""What `votectl queue peek` shows of a message, on either target: its votes decoded (a sample
and a count), the correlation ids it carries (the request ids the receiver answered with, also
of the votes the processor packed together), its receive count and its age."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from lambdas.contract import Invalid
from lambdas.envelope import read

__all__ = ["PEEK_QUEUES", "PeekedMessage", "peeked"]

PEEK_QUEUES = ("votes", "votes-dlq", "ready", "ready-dlq")
SAMPLE_VOTES = 3


@dataclass(frozen=True)
class PeekedMessage:
    queue: str
    message_id: str
    receive_count: int
    age_s: float
    votes: int  # how many votes the message holds
    request_id: str | None
    sample: list[dict[str, Any]] = field(default_factory=list)  # the first few, decoded
    problem: str | None = None  # why the body is not (all) votes
    bytes: int = 0
    correlation_ids: list[str] = field(default_factory=list)  # the request ids of its votes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def peeked(
    queue: str, message_id: str, body: str, sent_at_ms: int, receive_count: int, now_ms: int
) -> PeekedMessage:
    request_id: str | None = None
    problem = None
    ids: list[str] = []
    try:
        votes, problems, ids, _ = read(body)
        if problems:
            problem = f"{len(problems)} invalid votes: {problems[0].message}"
        request_id = str(msgspec.json.decode(body).get("request_id") or "") or None
    except Invalid as exc:
        votes, problem = [], exc.error
    return PeekedMessage(
        queue=queue,
        message_id=message_id,
        receive_count=receive_count,
        age_s=round(max(0, now_ms - sent_at_ms) / 1000, 3),
        votes=len(votes),
        request_id=request_id,
        sample=[msgspec.to_builtins(v) for v in votes[:SAMPLE_VOTES]],
        problem=problem,
        bytes=len(body.encode()),
        correlation_ids=ids,
    )
