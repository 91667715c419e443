"""Deadlines: how long a handler may still work, read from Lambda's context.

Lambda kills an invocation at its timeout and an SQS batch then comes back whole; a handler
that watches ``context.get_remaining_time_in_millis()`` can instead stop in time and hand back
only what it did not do. The local pollers pass a context with the same method (LocalContext).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Deadline", "LocalContext"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """``margin`` seconds before the invocation's end, asked of the context each time."""

    context: Any
    margin: float

    @classmethod
    def of(cls, context: Any, margin: float) -> Deadline:
        """The context's deadline less ``margin`` (at most a quarter of the time left now, so a
        short timeout still gets work done); never, for a context without one."""
        ask = getattr(context, "get_remaining_time_in_millis", None)
        if ask is not None:
            margin = min(margin, ask() / 4000)
        return cls(context, margin)

    def remaining(self) -> float:
        ask = getattr(self.context, "get_remaining_time_in_millis", None)
        return math.inf if ask is None else ask() / 1000 - self.margin

    def allows(self, seconds: float) -> bool:
        """True if work expected to take ``seconds`` would end before the deadline."""
        remaining = self.remaining()
        return remaining > 0 and seconds <= remaining


@dataclass(frozen=True)
class LocalContext:
    """The parts of Lambda's context object the handlers use, for the local runtime."""

    budget: float
    started: float = field(default_factory=time.monotonic)
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.budget - time.monotonic()) * 1000))
