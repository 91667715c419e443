"""The local endpoint's HTTP/1.1 server: httptools driven as an asyncio Protocol.

No ASGI cycle and no Task or Event per request: the parser's callbacks build the request, the
Gateway (votectl/local/gateway.py) answers it as soon as it is whole, and the answer is written
once its votes are committed, head and body in one write (answers to pipelined requests go out
together, in order). The limits of votectl/local/limits.py are kept per connection, with one
deadline per connection and one sweep per process every ``SWEEP_SECONDS`` instead of a timer
per request.

HTTP as uvicorn serves it: keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked), pipelining,
chunked bodies, ``Expect: 100-continue``. What llhttp refuses (Content-Length with
Transfer-Encoding, conflicting or repeated Content-Length, obs-fold, bad chunk sizes, bad
methods or versions) gets a JSON 400 and the connection is closed: nothing after a refused
request is read, so nothing can be smuggled past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import time
from collections import OrderedDict, deque
from email.utils import formatdate
from typing import Any

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from votectl.local.gateway import GATEWAY_MAX_BODY, RETRY_AFTER, Gateway, Reply, json_error
from votectl.local.limits import Limits, Tally

__all__ = ["SWEEP_SECONDS", "Endpoint", "HttpConnection"]

log = logging.getLogger("votectl.gateway")

SWEEP_SECONDS = 0.25
_INF = float("inf")
_CLOSE = b"connection: close\r\n"
_KEEP_ALIVE = b"connection: keep-alive\r\n"  # HTTP/1.0 keep-alive, as asked
_CONTINUE = Reply(b"HTTP/1.1 100 Continue\r\n", b"")
_TRIM_AFTER_BYTES = 16 << 20


def _malloc_trim() -> Any:
    """glibc's malloc_trim, to hand freed body buffers back to the system (None elsewhere)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_GONE: Any = None  # a closed connection's parser


class _Stop(Exception):
    """Raised from a parser callback to stop reading a connection."""


class Endpoint:
    """One gateway process's HTTP server: its connections, the budget for buffered bodies,
    and the sweep that closes connections past their deadlines."""

    def __init__(self, gateway: Gateway, limits: Limits, loop: asyncio.AbstractEventLoop) -> None:
        self.gateway = gateway
        self.limits = limits
        self.loop = loop
        self.connections: set[HttpConnection] = set()
        # idle or mid-request connections, the one longest without a byte first
        self.waiting: OrderedDict[HttpConnection, None] = OrderedDict()
        self.buffered = 0  # request body bytes held now, in all
        self.charged = 0  # of those, the bytes past each body's first small_body_bytes
        self.peak = 0
        self.stopping = False
        self.tally = Tally(limits.log_every_seconds)
        self._trim = _malloc_trim()
        self._date = (0, b"")
        self._sweeper: asyncio.TimerHandle | None = None

    def connection(self) -> HttpConnection:
        """The protocol factory for ``loop.create_server``."""
        return HttpConnection(self)

    def start(self) -> None:
        self._sweeper = self.loop.call_later(SWEEP_SECONDS, self._sweep)

    def date_line(self) -> bytes:
        now = int(time.time())
        if now != self._date[0]:
            self._date = (now, b"date: %s\r\n" % formatdate(now, usegmt=True).encode())
        return self._date[1]

    def _sweep(self) -> None:
        now = self.loop.time()
        for connection in [c for c in self.waiting if c.overdue(now)]:
            connection.expire()
        if self.peak > _TRIM_AFTER_BYTES and self.buffered < self.peak // 8:
            self.peak = self.buffered
            if self._trim is not None:  # a burst of uploads is over: give its memory back
                self._trim(0)
        self._sweeper = self.loop.call_later(SWEEP_SECONDS, self._sweep)

    async def shutdown(self, grace: float) -> None:
        """Answer what is in flight (requests mid-body too, within ``grace`` seconds), closing
        each connection after its last answer; then close what is left."""
        self.stopping = True
        for connection in list(self.connections):
            connection.finish()
        deadline = self.loop.time() + grace
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.transport.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()


class HttpConnection(asyncio.Protocol):
    """One client connection: the parser, the request being read, the answers not yet sent."""

    __slots__ = (
        "_ep",
        "_parser",
        "transport",
        "_peer",
        "_pending",
        "_reading",
        "_in_head",
        "_url",
        "_headers",
        "_body",
        "_size",
        "_declared",
        "_expect",
        "_started",
        "_received",
        "deadline",
        "_reason",
        "_head_exact",
        "_head_later",
        "_charged",
        "_close_after",
        "_refusal",
        "_paused",
        "_write_paused",
    )

    def __init__(self, endpoint: Endpoint) -> None:
        self._ep = endpoint
        self._parser = HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._peer = "127.0.0.1"
        self._pending: deque[tuple[Reply, bytes, bool]] = deque()
        self._reading = False  # between a request's first byte and its body's end
        self._in_head = False  # before its headers are complete
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._declared = -1
        self._expect = False
        self._started = 0.0
        self._received = 0
        self.deadline = _INF
        self._reason = ""
        self._head_exact = 0  # request line and header bytes parsed
        self._head_later = 0  # head bytes received after the chunk the request began in
        self._charged = 0
        self._close_after = False
        self._refusal: Reply | None = None
        self._paused = False
        self._write_paused = False

    # --- connection lifetime ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if peer:
            self._peer = peer[0]
        ep = self._ep
        ep.connections.add(self)
        if ep.stopping:
            transport.close()
            return
        if len(ep.connections) > ep.limits.max_connections:
            victim = next(iter(ep.waiting), None)
            if victim is None:
                self._close(
                    "refused over the connection cap",
                    json_error(503, "too many connections; retry", RETRY_AFTER),
                )
                return
            victim.evict()
        self._idle()

    def connection_lost(self, exc: Exception | None) -> None:
        ep = self._ep
        ep.connections.discard(self)
        ep.waiting.pop(self, None)
        if self._reading and not self._in_head:
            ep.gateway.abandoned += 1  # a body cut short is no request: nothing stored
        self._release()
        self._reading = False
        self._pending.clear()
        self._close_after = True
        # the parser calls back into this object (a cycle): let go of it, so the connection and
        # its buffers are freed now, not by a cyclic collection walking every connection
        self._parser = _GONE

    def pause_writing(self) -> None:
        """The client does not read its answers: stop reading its requests; it may stay so
        for ``idle_seconds``."""
        self._write_paused = True
        self.transport.pause_reading()
        self._wait(self._ep.limits.idle_seconds, "closed: not reading its answers")

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._paused and not self._close_after:
            self.transport.resume_reading()
        self._settle()

    def overdue(self, now: float) -> bool:
        if now >= self.deadline:
            return True
        if not self._reading or self._write_paused:
            return False
        limits = self._ep.limits
        late = now - self._started - limits.rate_grace_seconds
        return late > 0 and self._received < limits.min_bytes_per_second * late

    def expire(self) -> None:
        if self._write_paused or (self._close_after and not self._reading):
            self._ep.tally.add(self._reason)
            self._ep.waiting.pop(self, None)
            self.transport.abort()  # its answers cannot leave (or never came): nothing to add
        elif self._reading:
            limits = self._ep.limits
            message = (
                f"request not received within {limits.request_seconds:g} s, "
                f"or slower than {limits.min_bytes_per_second} bytes/s"
            )
            self._close(self._reason, json_error(408, message))
        else:
            self._close(self._reason)

    def evict(self) -> None:
        """Make room for a new connection over the cap."""
        if self._reading:
            message = "request too slow: closed for a new connection over the cap"
            self._close("closed mid-request for a new connection", json_error(408, message))
        else:
            self._close("closed idle for a new connection over the cap")

    def finish(self) -> None:
        """Shutting down: answer what is in flight, then close."""
        self._close_after = True
        if not self._reading and not self._pending:
            self.transport.close()

    def _idle(self) -> None:
        self._wait(self._ep.limits.idle_seconds, "closed idle")

    def _wait(self, seconds: float, reason: str) -> None:
        """Wait for the client at most ``seconds`` (and be a candidate to close for a
        newcomer meanwhile)."""
        self.deadline = self._ep.loop.time() + seconds
        self._reason = reason
        waiting = self._ep.waiting
        waiting.pop(self, None)
        waiting[self] = None

    def _close(self, reason: str, reply: Reply | None = None) -> None:
        """Close after the answers already due and ``reply``; read nothing more."""
        self._ep.tally.add(reason)
        self._ep.waiting.pop(self, None)
        self.deadline = _INF
        if self.transport.is_closing():
            return
        if reply is not None:
            self._pending.append((reply, _CLOSE, True))
        self._close_after = True
        self._reading = False
        self.transport.pause_reading()
        self._flush()
        if not self._pending:
            self.transport.close()
        else:  # answers still waiting for their commit (a bounded wait)
            self._wait(self._ep.limits.request_seconds, reason)

    def _release(self) -> None:
        """Give back the budget of the body being read."""
        ep = self._ep
        ep.buffered -= self._size
        ep.charged -= self._charged
        self._size = self._charged = 0
        self._body = []

    # --- reading --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._reading:
            self._received += len(data)
            if self._in_head:
                self._head_later += len(data)
            waiting = self._ep.waiting
            if self in waiting:  # it is, unless it is being closed
                waiting.move_to_end(self)
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            # not a protocol this endpoint speaks: the request is answered, the rest unread
            self._close_after = True
            self.transport.pause_reading()
        except HttpParserError as exc:
            self._refused(exc)
            return
        else:
            limit = self._ep.limits.max_header_bytes
            if self._in_head and (self._head_later > limit or self._head_exact > limit):
                self._refuse_head(f"request line and headers over {limit} bytes")
                return
        self._settle()

    def _refused(self, exc: HttpParserError) -> None:
        refusal, self._refusal = self._refusal, None
        if isinstance(exc, HttpParserCallbackError) and refusal is None:
            if isinstance(exc.__context__, _Stop):  # nothing more is read from it
                self._reading = False
                self._settle()
                return
            log.error("endpoint failed on a request", exc_info=exc.__context__ or exc)
            refusal = json_error(500, "internal error")
        if refusal is None:
            refusal = json_error(400, f"malformed HTTP request: {exc}")
        self._close("malformed or over the limits", refusal)

    def _refuse_head(self, message: str) -> None:
        self._close("malformed or over the limits", json_error(431, message))

    def _settle(self) -> None:
        """After reading or writing: flush what is due, then wait in the right state."""
        self._flush()
        if self.transport.is_closing() or self._write_paused:
            return
        if self._reading:
            pass  # waiting with the request's deadline (on_message_begin)
        elif self._pending:
            self._ep.waiting.pop(self, None)  # waiting for its commit, not for the client
            self.deadline = _INF
        elif self._close_after:
            self.transport.close()
        elif self.deadline == _INF or self._reason != "closed idle":
            self._idle()
        if self._pending and len(self._pending) >= self._ep.limits.max_pipelined:
            if not self._paused:
                self._paused = True
                self.transport.pause_reading()
        elif self._paused:
            self._paused = False
            if not self._close_after:
                self.transport.resume_reading()

    # parser callbacks (httptools calls only those defined)

    def on_message_begin(self) -> None:
        if self._close_after:  # after Connection: close, a refusal or an upgrade: not read
            raise _Stop
        ep = self._ep
        self._reading = self._in_head = True
        self._url = b""
        self._headers = []
        self._declared = -1
        self._expect = False
        self._head_exact = self._head_later = self._received = 0
        self._started = now = ep.loop.time()
        self.deadline = now + ep.limits.request_seconds
        self._reason = "timed out mid-request"
        ep.waiting.pop(self, None)
        ep.waiting[self] = None

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_exact += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._headers.append((name, value))
        self._head_exact += len(name) + len(value)
        if len(self._headers) > self._ep.limits.max_headers:
            self._refuse(431, f"more than {self._ep.limits.max_headers} headers")
        if name == b"content-length":
            self._declared = int(value) if value.isdigit() else -1
        elif name == b"expect" and value.lower() == b"100-continue":
            self._expect = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        ep = self._ep
        limits = ep.limits
        if self._head_exact > limits.max_header_bytes:
            self._refuse(431, f"request line and headers over {limits.max_header_bytes} bytes")
        declared = self._declared
        if declared > GATEWAY_MAX_BODY:  # refused before the body is sent
            self._refuse(413, f"body over the limit of {GATEWAY_MAX_BODY} bytes")
        if declared > limits.small_body_bytes and (
            ep.charged + declared - limits.small_body_bytes > limits.body_budget_bytes
        ):
            self._busy()
        if self._expect and self._parser.get_http_version() == "1.1":
            self._pending.append((_CONTINUE, b"", False))

    def on_body(self, chunk: bytes) -> None:
        ep = self._ep
        n = len(chunk)
        size = self._size + n
        if size > GATEWAY_MAX_BODY:
            self._refuse(413, f"body over the limit of {GATEWAY_MAX_BODY} bytes")
        over = size - ep.limits.small_body_bytes - self._charged
        if over > 0:
            if ep.charged + over > ep.limits.body_budget_bytes:
                self._busy()
            ep.charged += over
            self._charged += over
        self._size = size
        ep.buffered += n
        if ep.buffered > ep.peak:
            ep.peak = ep.buffered
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        ep = self._ep
        parser = self._parser
        self._reading = self._in_head = False
        chunks = self._body
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._release()
        keep = parser.should_keep_alive() and not ep.stopping
        method = parser.get_method().decode("latin-1")
        reply = ep.gateway.handle(method, self._url, self._headers, body, self._peer)
        if not keep:
            self._close_after = True
            lines = ep.date_line() + _CLOSE
        elif parser.get_http_version() == "1.0":
            lines = ep.date_line() + _KEEP_ALIVE
        else:
            lines = ep.date_line()
        pending = self._pending
        ticket = reply.ticket
        if ticket is not None and not (pending and pending[-1][0].ticket is ticket):
            ticket.add_done_callback(self._committed)
        pending.append((reply, lines, method != "HEAD"))

    def _refuse(self, status: int, message: str) -> None:
        self._refusal = json_error(status, message)
        raise _Stop(message)

    def _busy(self) -> None:
        self._refusal = json_error(
            503, "the endpoint is holding too many uploads; retry", RETRY_AFTER
        )
        raise _Stop("over the body budget")

    # --- writing --------------------------------------------------------------------------

    def _committed(self, _: asyncio.Future[None]) -> None:
        if not self.transport.is_closing():
            self._settle()

    def _flush(self) -> None:
        """Write the answers that are due, in order, in one write."""
        pending = self._pending
        if not pending:
            return
        out: list[bytes] = []
        gateway = self._ep.gateway
        while pending:
            reply, lines, with_body = pending[0]
            ticket = reply.ticket
            if ticket is not None:
                if not ticket.done():
                    break
                error = ticket.exception() if not ticket.cancelled() else TimeoutError()
                if error is not None:
                    reply = gateway.not_stored(error)
                else:
                    gateway.accepted += reply.accepted
            pending.popleft()
            out.append(reply.head)
            out.append(lines)
            out.append(b"\r\n")
            if with_body:
                out.append(reply.body)
        if out:
            with contextlib.suppress(RuntimeError):  # a transport closed under us
                self.transport.write(b"".join(out))
        if not pending and self._close_after and not self._reading:
            self.transport.close()
