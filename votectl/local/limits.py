"""What one client, and all of them together, may cost the local endpoint: the limits.

A connection may
- wait ``idle_seconds`` for its first request byte (and between requests), then it is closed;
- take ``request_seconds`` from a request's first byte to the end of its body, and send it no
  slower than ``min_bytes_per_second`` once it is ``rate_grace_seconds`` old (slow headers,
  slow or held uploads): past either it gets 408 and is closed;
- send ``max_header_bytes`` of request line and headers, as API Gateway's HTTP API, and
  ``max_headers`` headers (431 past either);
- stay open with ``max_connections`` others per gateway process: a new connection past the cap
  closes the connection that has gone longest without sending a byte while it is idle or
  mid-request (a slow upload is such a candidate, with a 408), or is itself refused (503) when
  every connection is waiting for its answers;
- keep ``max_pipelined`` answers waiting before the endpoint stops reading from it.

All connections together may buffer ``body_budget_bytes`` of request bodies beyond the first
``small_body_bytes`` of each (the first bytes of every body are always admitted: a vote is a
few hundred bytes); a request that would pass the budget gets 503 with Retry-After and is
closed. So a gateway process buffers at most ``body_budget_bytes + max_connections *
small_body_bytes`` of bodies, whatever the clients do. The body limit itself (the contract's,
413) is the endpoint's to check (votectl/local/protocol.py).
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus

import msgspec

__all__ = ["Limits", "Tally", "json_reply"]

log = logging.getLogger("votectl.gateway")


def _open_files_allowed() -> int:
    """This process's limit on open files, raised to the hard limit first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard or hard == resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@dataclass(frozen=True)
class Limits:
    idle_seconds: float = 5.0
    request_seconds: float = 10.0
    # API Gateway HTTP API: "Total combined size of request line and header values: 10240 bytes"
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
    max_header_bytes: int = 10240
    max_headers: int = 100
    max_connections: int = 4096
    log_every_seconds: float = 10.0
    min_bytes_per_second: int = 1024
    rate_grace_seconds: float = 1.0
    body_budget_bytes: int = 64 << 20
    small_body_bytes: int = 16 << 10
    max_pipelined: int = 32

    def within_open_files(self, reserve: int = 64) -> Limits:
        """These limits, with the connection cap lowered to what this process may open."""
        cap = max(16, min(self.max_connections, _open_files_allowed() - reserve))
        return dataclasses.replace(self, max_connections=cap)


def json_reply(status: int, message: str, extra: bytes = b"", close: bool = True) -> bytes:
    """A whole HTTP/1.1 response with a JSON error body, as the receiver's errors."""
    body = msgspec.json.encode({"error": message, "details": []})
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode()),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            extra,
            b"connection: close\r\n\r\n" if close else b"\r\n",
            body,
        ]
    )


class Tally:
    """Closings by reason, logged together now and then (a flood must not flood the log)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.counts: Counter[str] = Counter()
        self.since = time.monotonic()
        self.logged_at = -float("inf")  # the first closing is logged at once

    def add(self, reason: str) -> None:
        self.counts[reason] += 1
        now = time.monotonic()
        if now - self.logged_at >= self.every:
            log.warning(
                "connections closed in the last %.0f s: %s",
                now - self.since,
                ", ".join(f"{n} {why}" for why, n in sorted(self.counts.items())),
            )
            self.counts.clear()
            self.since = self.logged_at = now
