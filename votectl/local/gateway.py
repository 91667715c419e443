"""The local endpoint's application side: requests -> API Gateway HTTP API v2.0 events -> the
receiver -> replies.

No I/O here: ``Gateway.handle`` is called by the HTTP protocol (votectl/local/protocol.py) once
a request is whole. The receiver sends through ``GroupCommitQueue``: its sends from concurrent
requests are committed to SQLite together, and a reply leaves only after the commit that holds
its votes, so 202 still means stored. Handler code is the Lambda code, unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import msgspec
from httptools import HttpParserInvalidURLError, parse_url

from lambdas.contract import MAX_BODY_BYTES
from lambdas.receiver import QUEUE_UNAVAILABLE, RETRY_AFTER_SECONDS
from votectl.local.chaos import ChaosFailure
from votectl.local.db import Locked
from votectl.local.queue import SqliteQueue

__all__ = [
    "SEND_BUDGET_SECONDS",
    "Gateway",
    "GroupCommitQueue",
    "Reply",
    "http_api_event",
    "json_error",
    "pack_group",
]

log = logging.getLogger("votectl.gateway")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# How long a request's votes may wait for the votes queue's lock before the client gets a
# 503 with Retry-After: the lock is only ever held by another gateway worker's commit (tenths of
# a ms; a reclaim or a WAL truncation a few ms, up to some tens on a loaded machine), never by a
# consumer, so a second is hundreds of times what a sender waits for when nothing is wrong, and
# still short of the receiver's own budget on AWS (lambdas/receiver.py, 1.5 s) and of any
# client's timeout. Past it something holds the lock that should not (a stopped gateway
# worker, a `sqlite3` shell): answering beats keeping every client waiting.
SEND_BUDGET_SECONDS = 1.0

# The contract's limit: a larger body can never be valid, so it is not read (API Gateway reads
# up to 10 MB before the receiver refuses it; locally the memory is better spent).
GATEWAY_MAX_BODY = MAX_BODY_BYTES


class GroupCommitQueue:
    """A MessageQueue for handlers running on the event loop: ``send`` only buffers.

    The buffered bodies of all requests handled since the last commit go into one SQLite
    transaction, run on the loop itself (a commit takes about 0.1 ms; a worker thread cost
    0.5 ms of handoff per commit). The queue must not wait for the lock (``lock_wait=0``):
    when another gateway worker holds the inbox's lock (consumers never take it), the commit
    is retried from the loop after 50 us to 1 ms, so the loop keeps reading requests
    meanwhile. A commit that has not got the lock ``budget`` seconds after its first send
    fails its sends with ``TimeoutError`` (the endpoint answers 503): nothing of them was
    written, since the lock is taken before anything is.
    ``take_ticket()`` gives the future of the commit holding the last ``send``.
    """

    def __init__(
        self,
        queue: SqliteQueue,
        loop: asyncio.AbstractEventLoop,
        budget: float = SEND_BUDGET_SECONDS,
    ) -> None:
        self.max_message_bytes = queue.max_message_bytes
        self._queue = queue
        self._loop = loop
        self._budget = budget
        self._pending: list[bytes] = []
        self._next: asyncio.Future[None] | None = None
        self._next_since = 0.0  # monotonic seconds: the first send of the next commit
        self._running = False
        self._ticket: asyncio.Future[None] | None = None
        self._failing = 0  # commits failed in a row

    def send(self, bodies: Sequence[bytes], delay_seconds: int = 0) -> None:
        if delay_seconds:  # the receiver never delays; the commit batches every request's
            raise ValueError("the gateway's inbox sends without delay")
        self._pending.extend(bodies)
        if self._next is None:
            self._next = self._loop.create_future()
            self._next_since = time.monotonic()
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
        batch, self._pending = pack_group(self._pending, self.max_message_bytes), []
        done, self._next = self._next, None
        assert done is not None  # send() made it with the bodies now in the batch
        # the budget runs from the batch's first send, not from this start: sends that came
        # while the last commit waited for the lock have waited already
        self._commit(batch, done, 0.00005, self._next_since + self._budget)

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
            self._failed(done, TimeoutError(f"the votes queue stayed locked {self._budget:g} s"))
        except Exception as exc:
            self._failed(done, exc)
        else:
            if self._failing:
                log.error("votes queue commits work again after %d failed", self._failing)
                self._failing = 0
            self._settle(done, None)

    def _failed(self, done: asyncio.Future[None], error: BaseException) -> None:
        if not self._failing:  # once per streak: a full disk or a held lock fails every commit
            log.error("votes queue commits failing (answering 503): %s", error)
        self._failing += 1
        self._settle(done, error)

    def _settle(self, done: asyncio.Future[None], error: BaseException | None) -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        self._running = False
        if self._next is not None:  # sends that came while this commit ran
            self._schedule()


_HEAD = b'{"request_id":'
_MID = b',"votes":['
_TAIL = b"]}"


def pack_group(bodies: list[bytes], max_bytes: int) -> list[bytes]:
    """One group commit's messages, packed into as few messages as fit ``max_bytes`` each.

    The receiver's messages (``{"request_id": ..., "votes": [...]}``, lambdas/contract.py
    ``pack``) become ``{"correlation_ids": [...], "votes": [...]}``: the envelope the
    processor already reads (lambdas/envelope.py) and the one its ready messages use, so a
    packed message in the DLQ names every request it holds and redrives as it is. Spliced as
    bytes: nothing is decoded. A body of another shape is sent as it came.

    On AWS each request stays one SQS message (several only past the message size limit; the
    queue's ``maximumMessageSize`` defaults to 256 KiB and may be raised to 1 MiB:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html);
    the local queue keeps 256 KiB (``SqliteQueue.max_message_bytes``).
    """
    if len(bodies) < 2:
        return bodies
    packed: list[bytes] = []
    ids: list[bytes] = []
    votes: list[bytes] = []
    room = max_bytes - len(_PACKED_HEAD) - len(_PACKED_MID) - len(_TAIL)
    size = 0
    for body in bodies:
        mid = body.find(_MID) if body.startswith(_HEAD) and body.endswith(_TAIL) else -1
        if mid < 0:
            packed.append(body)
            continue
        # a JSON string has no raw '"' inside it, so the first _MID ends the request id
        request_id, listed = body[len(_HEAD) : mid], body[mid + len(_MID) : -len(_TAIL)]
        cost = len(request_id) + len(listed) + 2
        if votes and size + cost > room:
            packed.append(_packed(ids, votes))
            ids, votes, size = [], [], 0
        ids.append(request_id)
        votes.append(listed)
        size += cost
    if votes:
        packed.append(_packed(ids, votes))
    return packed


_PACKED_HEAD = b'{"correlation_ids":['
_PACKED_MID = b'],"votes":['


def _packed(ids: list[bytes], votes: list[bytes]) -> bytes:
    if len(ids) == 1:  # one request's: the receiver's own shape
        return b"".join([_HEAD, ids[0], _MID, votes[0], _TAIL])
    return b"".join([_PACKED_HEAD, b",".join(ids), _PACKED_MID, b",".join(votes), _TAIL])


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
_JSON_HEADER = b"content-type: application/json\r\n"


class Reply(NamedTuple):
    """A response as the endpoint writes it: ``head`` is the status line and the headers but
    the connection's own (Connection, Date) and the blank line; it is sent once ``ticket`` (the
    commit holding the request's votes) settles, and then acknowledges ``accepted`` votes."""

    head: bytes
    body: bytes
    ticket: asyncio.Future[None] | None = None
    accepted: int = 0


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode())


_STATUS_LINES = {int(s): _status_line(int(s)) for s in HTTPStatus}


@functools.lru_cache(maxsize=256)
def json_error(status: int, message: str, extra: bytes = b"") -> Reply:
    """A JSON error of the receiver's shape, {"error": ..., "details": []}; the same few are
    sent to every connection an attacker opens (408, 503), so they are made once."""
    body = _encode({"error": message, "details": []})
    head = b"%s%s%scontent-length: %d\r\n" % (
        _STATUS_LINES.get(status) or _status_line(status),
        _JSON_HEADER,
        extra,
        len(body),
    )
    return Reply(head, body)


RETRY_AFTER = b"retry-after: 1\r\n"
_QUEUE_RETRY_AFTER = b"retry-after: %d\r\n" % RETRY_AFTER_SECONDS


class Gateway:
    """Requests -> HTTP API events -> the handler -> replies; no I/O of its own.

    ``accepted`` counts votes acknowledged with 202 (for the status line), ``requests`` the
    requests handed to the handler, ``abandoned`` those whose client left before its body ended.
    """

    def __init__(self, handler: Handler, queue: GroupCommitQueue | None = None) -> None:
        self.handler = handler
        self.queue = queue
        self.accepted = 0
        self.requests = 0
        self.abandoned = 0
        self._prefix = base64.b32encode(os.urandom(5)).decode().rstrip("=")
        self._last_headers: tuple[dict[str, Any], bytes] = ({}, b"")

    def handle(
        self,
        method: str,
        url: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        source_ip: str,
    ) -> Reply:
        try:
            parsed = parse_url(url)
        except HttpParserInvalidURLError:
            return json_error(400, "malformed HTTP request: invalid URL")
        self.requests += 1
        event = http_api_event(
            method,
            # API Gateway routes on the path as sent: /vot%65s is not /votes
            parsed.path.decode("latin-1") if parsed.path else "/",
            parsed.query.decode("latin-1") if parsed.query else "",
            _headers(raw_headers),
            body,
            f"{self._prefix}{self.requests:08x}",
            source_ip,
        )
        try:
            response = self.handler(event, None)
        except ChaosFailure as exc:
            return json_error(503, f"{exc}; retry", RETRY_AFTER)
        except Exception:  # a bug: say so, and keep serving
            log.exception("receiver failed")
            return json_error(500, "internal error")
        ticket = self.queue.take_ticket() if self.queue is not None else None
        status = response.get("statusCode", 200)
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        head = b"%s%scontent-length: %d\r\n" % (
            _STATUS_LINES.get(status) or _status_line(status),
            self._header_lines(response.get("headers") or {}),
            len(raw),
        )
        return Reply(head, raw, ticket, _accepted(payload) if status == 202 else 0)

    def not_stored(self, error: BaseException) -> Reply:
        """The answer to a request whose commit failed (nothing of it was stored): the
        receiver's own 503 when SQS fails it on AWS, the same words and Retry-After."""
        return json_error(503, f"{QUEUE_UNAVAILABLE} ({error})", _QUEUE_RETRY_AFTER)

    def _header_lines(self, given: dict[str, Any]) -> bytes:
        """The header lines of a Lambda response's headers. The receiver answers with one
        constant dict, so the last conversion is kept (and the dict with it: its id stays
        unique)."""
        if given is not self._last_headers[0]:
            lines = b"".join(
                b"%s: %s\r\n" % (_header_text(k.lower()), _header_text(str(v)))
                for k, v in given.items()
                if k.lower() not in _SERVER_HEADERS  # the server's own, as API Gateway sets them
            )
            self._last_headers = (given, lines)
        return self._last_headers[1]


_SERVER_HEADERS = {"content-length", "connection", "transfer-encoding", "date"}


def _header_text(text: str) -> bytes:
    """A header name or value as sent: no CR or LF can split the response."""
    return text.encode("latin-1", "replace").replace(b"\r", b" ").replace(b"\n", b" ")


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
