"""The local endpoint: HTTP requests -> API Gateway HTTP API v2.0 events -> the receiver.

An ASGI app (served by uvicorn). The receiver sends through ``GroupCommitQueue``: its sends
from concurrent requests are committed to SQLite together, and a request's response leaves
only after the commit that holds its votes, so 202 still means stored. Handler code is the
Lambda code, unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from lambdas.contract import MAX_BODY_BYTES
from votectl.local.chaos import ChaosFailure
from votectl.local.db import Locked
from votectl.local.queue import SqliteQueue

__all__ = ["Gateway", "GroupCommitQueue", "http_api_event"]

log = logging.getLogger("votectl.gateway")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The contract's limit: a larger body can never be valid, so it is not read (API Gateway reads
# up to 10 MB before the receiver refuses it; locally the memory is better spent).
GATEWAY_MAX_BODY = MAX_BODY_BYTES


class GroupCommitQueue:
    """A MessageQueue for handlers running on the event loop: ``send`` only buffers.

    The buffered bodies of all requests handled since the last commit go into one SQLite
    transaction, run on the loop itself (a commit takes about 0.1 ms; a worker thread cost
    0.5 ms of handoff per commit). The queue must not wait for the lock (``lock_wait=0``):
    when another gateway worker or the processor's garbage collection holds the inbox's lock,
    the commit is retried from the loop after 50 us to 1 ms, so the loop keeps reading
    requests meanwhile.
    ``take_ticket()`` gives the future of the commit holding the last ``send``.
    """

    def __init__(
        self, queue: SqliteQueue, loop: asyncio.AbstractEventLoop, timeout: float = 30.0
    ) -> None:
        self.max_message_bytes = queue.max_message_bytes
        self._queue = queue
        self._loop = loop
        self._timeout = timeout
        self._pending: list[bytes] = []
        self._next: asyncio.Future[None] | None = None
        self._running = False
        self._ticket: asyncio.Future[None] | None = None
        self._failing = 0  # commits failed in a row

    def send(self, bodies: Sequence[bytes], delay_seconds: int = 0) -> None:
        if delay_seconds:  # the receiver never delays; the commit batches every request's
            raise ValueError("the gateway's inbox sends without delay")
        self._pending.extend(bodies)
        if self._next is None:
            self._next = self._loop.create_future()
            if not self._running:
                self._schedule()
        self._ticket = self._next

    def take_ticket(self) -> asyncio.Future[None] | None:
        ticket, self._ticket = self._ticket, None
        return ticket

    def _schedule(self) -> None:
        # After the callbacks already queued: the requests read on this loop iteration send
        # before the commit takes the batch, so they share it.
        self._running = True
        self._loop.call_soon(self._start)

    def _start(self) -> None:
        batch, self._pending = self._pending, []
        done, self._next = self._next, None
        assert done is not None  # send() made it with the bodies now in the batch
        self._commit(batch, done, 0.00005, time.monotonic() + self._timeout)

    def _commit(
        self, batch: list[bytes], done: asyncio.Future[None], pause: float, deadline: float
    ) -> None:
        try:
            self._queue.send(batch)  # a queue with lock_wait=0: Locked instead of blocking
        except Locked:
            if time.monotonic() < deadline:
                retry = min(pause * 2, 0.001)
                self._loop.call_later(pause, self._commit, batch, done, retry, deadline)
                return
            self._settle(done, TimeoutError("the votes queue stayed locked"))
        except Exception as exc:
            if not self._failing:  # once per streak: a full disk fails every commit
                log.error("votes queue commits failing (answering 503): %s", exc)
            self._failing += 1
            self._settle(done, exc)
        else:
            if self._failing:
                log.error("votes queue commits work again after %d failed", self._failing)
                self._failing = 0
            self._settle(done, None)

    def _settle(self, done: asyncio.Future[None], error: BaseException | None) -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        self._running = False
        if self._next is not None:  # sends that came while this commit ran
            self._schedule()


class _Clock:
    """API Gateway's ``time`` field, formatted once per second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def text(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        return self._text


_clock = _Clock()


def http_api_event(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    request_id: str,
    source_ip: str,
) -> dict[str, Any]:
    """The event API Gateway HTTP API (payload format 2.0) sends to a Lambda on $default."""
    now = time.time()
    try:
        text, is_base64 = body.decode(), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": _clock.text(now),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if text:
        event["body"] = text
    if query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers.pop("cookie").split(";")]
    return event


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """API Gateway's headers: names lower-cased (ASGI servers send them so), repeats joined
    with commas (once per name: joining as they come would copy the value every time)."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
    if len(headers) < len(raw):  # a repeated header: join its values, as API Gateway does
        values: dict[str, list[str]] = {}
        for name, value in raw:
            values.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        headers = {key: ",".join(texts) for key, texts in values.items()}
    return headers


_decode = msgspec.json.decode
_encode = msgspec.json.encode
_JSON_HEADERS = [(b"content-type", b"application/json")]
_CLOSE_HEADERS = [*_JSON_HEADERS, (b"connection", b"close")]  # the rest of the body is unread
_TOO_LARGE = _encode({"error": f"body over the limit of {GATEWAY_MAX_BODY} bytes", "details": []})


class Gateway:
    """The ASGI app. ``accepted`` counts votes acknowledged with 202 (for the status line)."""

    def __init__(self, handler: Handler, queue: GroupCommitQueue | None = None) -> None:
        self.handler = handler
        self.queue = queue
        self.accepted = 0
        self.requests = 0
        self.abandoned = 0  # requests whose client left before its body ended: not handled
        self._prefix = base64.b32encode(os.urandom(5)).decode().rstrip("=")
        self._counter = 0
        self._last_headers: tuple[dict[str, Any], list[tuple[bytes, bytes]]] = ({}, [])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if _declared_length(scope["headers"]) > GATEWAY_MAX_BODY:
            await _respond(send, 413, _TOO_LARGE, _CLOSE_HEADERS)
            return
        body = await _read_body(receive)
        if body is _TOO_LARGE:
            await _respond(send, 413, _TOO_LARGE, _CLOSE_HEADERS)
            return
        if body is None:  # the client left (or timed out) mid-body: nothing to answer or store
            self.abandoned += 1
            return
        self._counter += 1
        self.requests += 1
        client = scope.get("client") or ("127.0.0.1", 0)
        event = http_api_event(
            scope["method"],
            # API Gateway routes on the path as sent: /vot%65s is not /votes
            scope.get("raw_path", b"").decode("latin-1") or scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            _headers(scope["headers"]),
            body,
            f"{self._prefix}{self._counter:08x}",
            client[0],
        )
        try:
            response = self.handler(event, None)
        except ChaosFailure as exc:
            await _respond(send, 503, _error_body(f"{exc}; retry"), _JSON_HEADERS)
            return
        except Exception:  # a bug: say so, and keep serving
            log.exception("receiver failed")
            await _respond(send, 500, _error_body("internal error"), _JSON_HEADERS)
            return
        ticket = self.queue.take_ticket() if self.queue is not None else None
        if ticket is not None:
            try:
                await ticket
            except Exception as exc:
                await _respond(send, 503, _error_body(f"not stored, retry ({exc})"), _JSON_HEADERS)
                return
        status = response.get("statusCode", 200)
        payload = response.get("body") or ""
        if status == 202:
            self.accepted += _accepted(payload)
        headers = self._response_headers(response.get("headers") or {})
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        await _respond(send, status, raw, headers)

    def _response_headers(self, given: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        """The ASGI headers of a Lambda response's. The receiver answers with one constant
        dict, so the last conversion is kept (and the dict with it: its id stays unique)."""
        if given is not self._last_headers[0]:
            converted = [
                (k.lower().encode(), str(v).encode())
                for k, v in given.items()
                if k.lower() != "content-length"  # the gateway sets it, as API Gateway does
            ]
            self._last_headers = (given, converted)
        return self._last_headers[1]


_ACCEPTED = '{"accepted":'


def _accepted(body: str) -> int:
    """The receiver's count of accepted votes, from its 202 body."""
    if body.startswith(_ACCEPTED):  # the receiver's own shape: no need to decode it all
        digits = body[len(_ACCEPTED) : body.find(",", len(_ACCEPTED))]
        if digits.isdigit():
            return int(digits)
    try:
        return int(_decode(body or "{}").get("accepted", 0))
    except (msgspec.DecodeError, AttributeError, TypeError, ValueError):
        return 0


def _error_body(message: str) -> bytes:
    return _encode({"error": message, "details": []})


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The Content-Length the client announced (0 if none; httptools refuses a malformed one)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _read_body(receive: Any) -> bytes | None:
    """The whole body; ``_TOO_LARGE`` once it passes the limit (the rest is not read); None if
    the client disconnected first (``http.disconnect``: a body cut short is no body)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > GATEWAY_MAX_BODY:
            return _TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    # with a Content-Length, as API Gateway sends, and uvicorn needs no chunked encoding
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
