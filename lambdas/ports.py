"""The interfaces the handlers depend on; boto3 adapters and the local runtime implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lambdas.contract import Vote

__all__ = ["MessageQueue", "QueueUnavailable", "VoteTable"]


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
