"""One retry layer, ours: botocore's client settings, which errors deserve another attempt, and
the jittered backoffs (between attempts of a call, and before a re-queued vote comes back)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

__all__ = [
    "ATTEMPT_SECONDS",
    "Backoff",
    "TRANSIENT",
    "client_config",
    "requeue_delay",
    "transient",
]

WRITE_WORKERS = 16
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
ATTEMPT_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT
"""The longest one call can take: the adapters start an attempt only while it fits."""

MAX_DELAY_SECONDS = 900
"""SQS's per-message DelaySeconds maximum, SendMessageBatch entries included ("Valid values: 0
to 900"; https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchRequestEntry.html)."""
REQUEUE_DELAY_BASE = 5.0
"""A re-queued vote's delay doubles per attempt from here (attempt 1: 2.5-5 s ... 4: 20-40 s):
under sustained throttling its attempts spread over about a minute instead of coming back to
back, and the last one reaches the DLQ after about 40-75 s of delays."""


def client_config(connect: float = CONNECT_TIMEOUT, read: float = READ_TIMEOUT) -> Config:
    """botocore makes one attempt per call, bounded by its timeouts; we retry above it."""
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=2 * WRITE_WORKERS,
    )


# Errors worth another attempt (AWS's throttling and server-side codes); anything else a
# retry cannot fix.
TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "ThrottlingException",
        "ThrottlingError",
        "Throttling",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TransactionConflict",
        "TransactionConflictException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "KMS.ThrottlingException",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)


def transient(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT or status >= 500
    return isinstance(exc, BotoCoreError)  # timeouts, connection errors


class Backoff:
    """Full-jitter exponential backoff (sleep a random part of base * 2^n, capped)."""

    def __init__(
        self,
        base: float = 0.025,
        cap: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base, self.cap, self.sleep, self.rng, self.clock = base, cap, sleep, rng, clock

    def pause(self, attempt: int) -> float:
        return self.rng() * min(self.cap, self.base * 2**attempt)


def requeue_delay(attempt: int, rng: Callable[[], float] = random.random) -> int:
    """DelaySeconds for a vote re-queued for its ``attempt``-th time (1, 2, ...): equal jitter,
    half of ``REQUEUE_DELAY_BASE * 2^(attempt-1)`` fixed and half random, within SQS's 900 s."""
    ceiling = min(MAX_DELAY_SECONDS, REQUEUE_DELAY_BASE * 2 ** max(0, attempt - 1))
    return min(MAX_DELAY_SECONDS, max(1, round(ceiling / 2 + rng() * ceiling / 2)))
