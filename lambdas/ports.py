"""The interfaces the handlers depend on; boto3 adapters and the local runtime implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lambdas.contract import Vote

__all__ = ["Handler", "MessageQueue", "QueueUnavailable", "VoteTable", "built_on_first_call"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def built_on_first_call(build: Callable[[], Handler]) -> Handler:
    """A Lambda entry point whose handler (boto3 clients, environment) is built once, on the
    first invocation: importing the module needs no AWS configuration."""
    built: list[Handler] = []

    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not built:
            built.append(build())
        return built[0](event, context)

    return entry


class QueueUnavailable(Exception):
    """A send did not reach the queue; nothing the caller sent can be assumed stored."""


class MessageQueue(Protocol):
    """Where a handler sends messages. ``send`` returns only once every body is durably queued."""

    max_message_bytes: int

    def send(self, bodies: Sequence[bytes]) -> None: ...


class VoteTable(Protocol):
    """The votes table, keeping per identity the vote with the greatest ``Vote.order_key``."""

    def put_latest(self, votes: Sequence[Vote]) -> Sequence[int]:
        """Upsert; an older or equal vote changes nothing.

        Returns the indexes of the votes that failed transiently (retry those).
        """
        ...
