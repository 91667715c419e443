"""What one client may cost the local endpoint: the limits and the HTTP protocol enforcing them.

A connection may
- wait ``idle_seconds`` for its first request byte (and between requests), then it is closed;
- take ``request_seconds`` from its first byte to the end of the request's body (slow headers,
  slow or held uploads), then it gets 408 and is closed, and the app reads a disconnect;
- send ``max_header_bytes`` of request line and headers, as API Gateway's HTTP API (431 past it);
- stay open with ``max_connections`` others per gateway process: a new connection past the cap
  closes the connection that has waited longest without a request in the app (an idle or
  slow-header one), or is itself closed if every connection has a request in the app.

Every refusal the protocol sends itself (uvicorn's own "Invalid HTTP request" included) is JSON
like the receiver's: {"error": ..., "details": []}. Closings are counted and logged at most
every ``log_every_seconds``. The body limit (the contract's) is the Gateway's to check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import resource
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GuardedHttp", "Limits"]

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
    max_header_bytes: int = 10240
    max_headers: int = 100
    max_connections: int = 4096
    log_every_seconds: float = 10.0

    def within_open_files(self, reserve: int = 64) -> Limits:
        """These limits, with the connection cap lowered to what this process may open."""
        cap = max(16, min(self.max_connections, _open_files_allowed() - reserve))
        return dataclasses.replace(self, max_connections=cap)


def _json_reply(status: int, reason: bytes, message: str) -> bytes:
    body = msgspec.json.encode({"error": message, "details": []})
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _Refused(Exception):
    def __init__(self, status: int, reason: bytes, message: str) -> None:
        super().__init__(message)
        self.reply = _json_reply(status, reason, message)


class _Tally:
    """Closings by reason, logged together now and then (a flood must not flood the log)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.since = time.monotonic()
        self.logged_at = -float("inf")  # the first closing is logged at once

    def add(self, reason: str, every: float) -> None:
        self.counts[reason] += 1
        now = time.monotonic()
        if now - self.logged_at >= every:
            log.warning(
                "connections closed in the last %.0f s: %s",
                now - self.since,
                ", ".join(f"{n} {why}" for why, n in sorted(self.counts.items())),
            )
            self.counts.clear()
            self.since = self.logged_at = now


# the base class's methods, called directly on the hot path (cheaper than super())
_base_data_received = HttpToolsProtocol.data_received
_base_headers_complete = HttpToolsProtocol.on_headers_complete
_base_message_complete = HttpToolsProtocol.on_message_complete
_base_response_complete = HttpToolsProtocol.on_response_complete


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above (``limits`` is set per process).

    Cheap on the hot path: no timer per request. Each connection keeps a deadline, and one
    sweep per process, every ``_SWEEP_SECONDS``, closes the connections past theirs. Header
    bytes are counted per chunk read, and measured exactly only when a head may be too large.
    """

    limits: ClassVar[Limits] = Limits()
    _waiting: ClassVar[OrderedDict[GuardedHttp, None]] = OrderedDict()  # no request in the app
    _tally: ClassVar[_Tally] = _Tally()
    _all: ClassVar[set[Any] | None] = None  # the server's connections, once the sweep runs
    _SWEEP_SECONDS = 0.25

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = float("inf")
        self._reason = ""
        self._reading = False  # between a request's first byte and its body's end
        self._in_head = False  # before its headers are complete
        self._head_bytes = 0
        self._refusal: bytes | None = None

    # --- connection lifetime --------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if GuardedHttp._all is None:
            GuardedHttp._all = self.connections
            self.loop.call_later(self._SWEEP_SECONDS, self._sweep, self.loop)
        if len(self.connections) > self.limits.max_connections:
            victim = next(iter(self._waiting), None)
            if victim is None:
                reply = _json_reply(503, b"Service Unavailable", "too many connections; retry")
                self._close("refused over the connection cap", reply)
                return
            victim._close("closed idle for a new connection over the cap")
        self._wait(self.limits.idle_seconds, "closed idle")

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = float("inf")
        self._waiting.pop(self, None)
        super().connection_lost(exc)

    @classmethod
    def _sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in [c for c in cls._all or () if c._deadline <= now]:
            connection._expire()
        loop.call_later(cls._SWEEP_SECONDS, cls._sweep, loop)

    def _wait(self, seconds: float, reason: str) -> None:
        """Wait for a request (a candidate to close for a newcomer) at most ``seconds``."""
        self._deadline = self.loop.time() + seconds
        self._reason = reason
        self._waiting[self] = None

    def _expire(self) -> None:
        self._deadline = float("inf")
        if self._reading:
            message = f"request not received within {self.limits.request_seconds:g} s"
            self._close(self._reason, _json_reply(408, b"Request Timeout", message))
        else:
            self._close(self._reason)

    def _close(self, reason: str, reply: bytes = b"") -> None:
        self._tally.add(reason, self.limits.log_every_seconds)
        self._waiting.pop(self, None)
        if not self.transport.is_closing():
            started = self.cycle is not None and self.cycle.response_started
            if reply and not started:
                self.transport.write(reply)
            self.transport.close()

    # --- requests -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            self._reading = self._in_head = True
            self._head_bytes = 0
            self._deadline = self.loop.time() + self.limits.request_seconds
            self._reason = "timed out mid-request"
        if self._in_head:
            self._head_bytes += len(data)
        _base_data_received(self, data)
        too_long = self._in_head and self._head_bytes > self.limits.max_header_bytes
        if too_long and not self.transport.is_closing():  # all of it head, and no end yet
            limit = self.limits.max_header_bytes
            self._refuse_head(f"request line and headers over {limit} bytes")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._waiting.pop(self, None)  # a request in the app: no longer a candidate to close
        if len(self.headers) > self.limits.max_headers:
            raise self._refusing(f"more than {self.limits.max_headers} headers")
        if self._head_bytes > self.limits.max_header_bytes:  # with body bytes, maybe: measure
            self._check_head_size()
        _base_headers_complete(self)

    def _check_head_size(self) -> None:
        limit = self.limits.max_header_bytes
        if len(self.url) + sum(len(n) + len(v) for n, v in self.headers) > limit:
            raise self._refusing(f"request line and headers over {limit} bytes")

    def _refusing(self, message: str) -> _Refused:
        refused = _Refused(431, b"Request Header Fields Too Large", message)
        self._refusal = refused.reply
        return refused

    def _refuse_head(self, message: str) -> None:
        self._close("malformed or over the header limits", self._refusing(message).reply)

    def on_message_complete(self) -> None:
        self._reading = False
        self._deadline = float("inf")
        _base_message_complete(self)

    def on_response_complete(self) -> None:
        _base_response_complete(self)
        if not self._reading and not self.transport.is_closing():
            self._wait(self.limits.idle_seconds, "closed idle")

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what httptools cannot parse (and to a header limit), as JSON."""
        reply = self._refusal or _json_reply(400, b"Bad Request", f"malformed HTTP request: {msg}")
        self._refusal = None
        self._close("malformed or over the header limits", reply)
