"""What a target supplies to `votectl canary` (a Protocol), and the HTTP send both targets share.

A probe sends one request body into the pipeline's front door (or, where none can be reached,
straight into the receiver), reads one stored vote and deletes one. Below the targets: both
implement it (votectl/local/canary.py, votectl/aws/canary.py); votectl/canary.py drives it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

__all__ = ["FRONT_DOOR", "RECEIVER", "Probe", "Sent", "Stored", "Unreachable", "post_votes"]

# the hops a vote passes, in order: a failed canary names one of them
FRONT_DOOR, RECEIVER = "front door", "receiver"


@dataclass(frozen=True)
class Sent:
    """The answer to one request: HTTP status, its JSON body (None if it was not JSON)."""

    status: int
    body: dict[str, Any] | None
    request_id: str | None  # the correlation id the handlers log

    @property
    def error(self) -> str:
        body = self.body or {}
        return str(body.get("error") or body.get("message") or "")


@dataclass(frozen=True)
class Stored:
    """One vote as the table holds it."""

    score: int
    voted_at: str
    write_path: str | None  # what the writer says served it, where it says (AWS)


class Unreachable(Exception):
    """The request never got an answer: ``hop`` is where it stopped."""

    def __init__(self, hop: str, message: str) -> None:
        super().__init__(message)
        self.hop = hop


class Probe(Protocol):
    via: str  # "http" or "invoke"
    door: str  # the URL posted to, or the function invoked
    default_write_path: str  # what to report when the item does not say ("local", "unknown")
    notes: list[str]  # what the probe chose and why (e.g. no front door reachable)

    def send(self, body: bytes, user_id: str) -> Sent:
        """POST ``body`` to /votes; ``user_id``: the voter an invoked receiver is told of."""
        ...

    def read(self, user_id: str, title_id: str, aspect: str) -> Stored | None: ...

    def delete(self, user_id: str, title_id: str, aspect: str) -> None: ...


def post_votes(url: str, body: bytes, token: str | None, timeout: float = 10.0) -> Sent:
    """POST ``body`` to ``url``/votes as a JSON client does; Unreachable (front door) if no
    answer comes back."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    try:
        reply = httpx.post(
            f"{url.rstrip('/')}/votes", content=body, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise Unreachable(FRONT_DOOR, f"POST {url}/votes: {type(exc).__name__}: {exc}") from None
    return answer(reply.status_code, reply.content)


def answer(status: int, content: bytes | str) -> Sent:
    """A Sent from a status and a body that may or may not be a JSON object."""
    try:
        body = json.loads(content or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = None
    request_id = body.get("request_id") if body else None
    return Sent(status, body, str(request_id) if request_id else None)
