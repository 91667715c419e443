"""Receiver: HTTP API v2.0 event -> validate -> votes queue -> 202.

Routes: POST /votes, GET /health, GET /openapi.json (the contract, lambdas/openapi.py). Anything
a client sends gets a 2xx or 4xx with a JSON body; a queue that cannot be reached gets a JSON
503 with ``Retry-After`` (RFC 9110, section 10.2.3), never a 500. The SQS adapter gives up
within SQS_BUDGET_SECONDS in total (calls bounded by 0.3 s connect + 0.7 s read timeouts), so
a stalled SQS holds an invocation 1.5 s, not the function's timeout: at 40,000 requests/s
every second held is 40,000 more concurrent invocations. After a 503 part of a request may be
queued: delivery is at-least-once and the table keeps the latest vote per identity, so the
client's re-send changes nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import msgspec

from lambdas.contract import (
    MAX_BODY_BYTES,
    Invalid,
    Problem,
    decode_request,
    pack,
    require_json,
)
from lambdas.identity import Forbidden, claim_votes
from lambdas.log import function_logger, log_fields
from lambdas.ports import (
    Clock,
    Handler,
    MessageQueue,
    QueueUnavailable,
    built_at_init,
    wall_clock,
)

__all__ = [
    "QUEUE_UNAVAILABLE",
    "RETRY_AFTER_SECONDS",
    "SQS_BUDGET_SECONDS",
    "handler",
    "make_handler",
    "votes_queue",
]

_encode = msgspec.json.Encoder().encode
_JSON = {"content-type": "application/json"}
_ROUTES = {"/votes": "POST", "/health": "GET", "/openapi.json": "GET"}
log = function_logger("receiver")
SQS_BUDGET_SECONDS = 1.5
SQS_CONNECT_TIMEOUT, SQS_READ_TIMEOUT = 0.3, 0.7
RETRY_AFTER_SECONDS = 2
# The 503's error when the votes queue takes no send within the budget (the local gateway's
# group commit answers with the same words and Retry-After).
QUEUE_UNAVAILABLE = "votes queue unavailable; retry (re-sending votes is always safe)"


def _reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**_JSON, **headers} if headers else _JSON,
        "body": _encode(payload).decode(),
    }


def _error(
    status: int,
    error: str,
    details: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    return _reply(status, {"error": error, "details": details or []}, headers)


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("body is not valid base64", []) from None
    return body.encode() if isinstance(body, str) else body


def make_handler(queue: MessageQueue, clock: Clock = wall_clock) -> Handler:
    """A receiver bound to ``queue`` (boto3 SQS on AWS, SQLite locally); ``clock`` stamps the
    votes that carry no voted_at (the host's clock on AWS; locally one that never steps back)."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        http = event.get("requestContext", {}).get("http", {})
        path = event.get("rawPath") or http.get("path", "/")
        method = http.get("method", "GET")
        allowed = _ROUTES.get(path.rstrip("/") or "/")
        if allowed is None:
            return _error(404, f"no route for {path}; POST /votes or GET /health")
        if method != allowed:
            return _error(
                405, f"{method} not allowed on {path}; use {allowed}", None, {"allow": allowed}
            )
        if allowed == "GET":
            if path.startswith("/openapi.json"):
                from lambdas.openapi import openapi

                return _reply(200, openapi())
            return _reply(200, {"status": "ok"})
        request_id = event.get("requestContext", {}).get("requestId", "")
        try:
            require_json(event.get("headers"))
            body = _body(event)
            if len(body) > MAX_BODY_BYTES:
                return _error(413, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
            votes = decode_request(claim_votes(event, body))
        except Invalid as exc:
            return _error(exc.status, exc.error, exc.problems)
        except Forbidden as exc:
            return _error(403, exc.error, exc.problems)
        now = clock()
        for vote in votes:
            if vote.voted_at is None:
                vote.voted_at = now
        try:
            queue.send(pack(votes, request_id, queue.max_message_bytes))
        except QueueUnavailable as exc:
            fields = log_fields(correlation_id=request_id, votes=len(votes), error=str(exc))
            log.error("votes queue unavailable", extra=fields)
            return _error(
                503,
                f"{QUEUE_UNAVAILABLE} ({exc})",
                None,
                {"retry-after": str(RETRY_AFTER_SECONDS)},
            )
        return _reply(202, {"accepted": len(votes), "request_id": request_id})

    return handle


def votes_queue(url: str, **client_args: Any) -> MessageQueue:
    """The votes queue as the receiver sends to it: every send within SQS_BUDGET_SECONDS.
    ``client_args`` go to boto3.client (an endpoint, credentials)."""
    import boto3

    from lambdas.adapters import SqsQueue
    from lambdas.retry import client_config

    config = client_config(SQS_CONNECT_TIMEOUT, SQS_READ_TIMEOUT)
    return SqsQueue(
        url,
        client=boto3.client("sqs", config=config, **client_args),
        budget=SQS_BUDGET_SECONDS,
        attempt_seconds=SQS_CONNECT_TIMEOUT + SQS_READ_TIMEOUT,
    )


def _build() -> Handler:
    return make_handler(votes_queue(os.environ["VOTES_QUEUE_URL"]))


handler = built_at_init(_build, "VOTES_QUEUE_URL")
"""The Lambda entry point: the SQS queue named by VOTES_QUEUE_URL."""
