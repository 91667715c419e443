"""The interfaces the handlers depend on; boto3 adapters and the local runtime implement them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from lambdas.contract import Vote
from lambdas.deadline import Deadline

__all__ = [
    "Clock",
    "Handler",
    "MessageQueue",
    "QueueUnavailable",
    "VoteTable",
    "built_at_init",
    "built_on_first_call",
    "wall_clock",
]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

Clock = Callable[[], datetime]
"""The receiver's receipt time (an aware UTC datetime): a vote's voted_at when it sends none."""


def wall_clock() -> datetime:
    """The host's clock. On Lambda it is kept by the Amazon Time Sync Service (see
    docs/identity-and-time.md); locally a data dir's clock that never steps back replaces it
    (votectl/local/stamps.py)."""
    return datetime.now(UTC)


def built_on_first_call(build: Callable[[], Handler]) -> Handler:
    """A Lambda entry point whose handler (boto3 clients, environment) is built once, on the
    first invocation: importing the module needs no AWS configuration."""
    built: list[Handler] = []

    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not built:
            built.append(build())
        return built[0](event, context)

    return entry


def built_at_init(build: Callable[[], Handler], *env: str) -> Handler:
    """Build the handler while the module is imported (Lambda's init phase, before the first
    request waits on it) when the environment names a region and every ``env`` variable;
    otherwise, as ``built_on_first_call``, on the first invocation. Importing the module thus
    still needs no AWS configuration, and a failed build at import is retried on first call."""
    # Lambda sets AWS_DEFAULT_REGION (boto3's; AWS_REGION alone does not configure it)
    if os.environ.get("AWS_DEFAULT_REGION") and all(os.environ.get(name) for name in env):
        try:
            handler = build()
        except Exception:  # noqa: BLE001 - reported by the first invocation instead
            return built_on_first_call(build)
        return handler
    return built_on_first_call(build)


class QueueUnavailable(Exception):
    """A send did not reach the queue; nothing the caller sent can be assumed stored."""


class MessageQueue(Protocol):
    """Where a handler sends messages. ``send`` returns only once every body is durably queued,
    each delivered no sooner than ``delay_seconds`` (SQS's per-message timer, 0-900 s)."""

    max_message_bytes: int

    def send(self, bodies: Sequence[bytes], delay_seconds: int = 0) -> None: ...


class VoteTable(Protocol):
    """The votes table, keeping per identity the vote with the greatest ``Vote.order_key``.

    ``call_seconds``: the longest one of its calls can take; the writer starts its first
    slice only if that fits before the deadline (0 for a table with no remote calls)."""

    call_seconds: float

    def put_latest(self, votes: Sequence[Vote], deadline: Deadline | None = None) -> Sequence[int]:
        """Upsert; an older or equal vote changes nothing. Retries stop at ``deadline``.

        Returns the indexes of the votes that are not written (retry those).
        """
        ...
