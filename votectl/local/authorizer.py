"""What API Gateway does in front of the receiver, locally: CORS and the JWT authorizer.

``guard`` wraps the receiver: CORS preflights are answered (for a listed origin, with the
methods, headers and max age the template gives the HTTP API); every route but ``GET /health``
needs a bearer token (``Bearer TOKEN`` or the bare token, as the identity source
``$request.header.Authorization`` accepts); a token that does not verify gets 401 with
``WWW-Authenticate``; a verified token's claims go to ``requestContext.authorizer.jwt.claims``
as strings, as AWS sends them. With auth none and no origins the receiver is returned as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from votectl.local.auth import AuthSettings, Unauthorized, Verifier

__all__ = ["CORS_MAX_AGE", "guard"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_JSON = "application/json"
_CORS_METHODS = "GET,POST"
_CORS_HEADERS = "authorization,content-type"
CORS_MAX_AGE = 600


def _claim_text(value: Any) -> str:
    """A claim as API Gateway passes it on: numbers and booleans as text, arrays as [a b]."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _claim_texts(claims: dict[str, Any]) -> dict[str, str]:
    return {k: _claim_text(v) for k, v in claims.items()}


def _unauthorized(message: str, header: str) -> dict[str, Any]:
    return {
        "statusCode": 401,
        "headers": {"content-type": _JSON, "www-authenticate": header},
        "body": json.dumps({"error": message, "details": []}),
    }


def _bearer(headers: dict[str, str]) -> str:
    """The token of the Authorization header: ``Bearer TOKEN`` or the bare token, as the
    HTTP API's identity source ``$request.header.Authorization`` accepts."""
    value = headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


def guard(handler: Handler, settings: AuthSettings) -> Handler:
    """``handler`` behind CORS and (with mode jwt) the JWT authorizer; unchanged when both
    are off."""
    verifier = Verifier(settings, present=_claim_texts) if settings.mode == "jwt" else None
    origins = settings.cors_origins
    if verifier is None and not origins:
        return handler

    def allow_origin(headers: dict[str, str]) -> dict[str, str]:
        origin = headers.get("origin")
        if origin is None or not (origin in origins or "*" in origins):
            return {}
        return {"access-control-allow-origin": "*" if "*" in origins else origin, "vary": "origin"}

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        headers = event.get("headers") or {}
        http = event["requestContext"]["http"]
        cors = allow_origin(headers) if origins else {}
        if origins and http["method"] == "OPTIONS" and "access-control-request-method" in headers:
            return {"statusCode": 204, "headers": _preflight(cors), "body": ""}
        response = _authorized(event, http, headers, verifier) or handler(event, context)
        if cors:
            response["headers"] = {**(response.get("headers") or {}), **cors}
        return response

    return handle


def _preflight(cors: dict[str, str]) -> dict[str, str]:
    """A preflight's answer: the allowed methods and headers, for an allowed origin only."""
    if not cors:
        return {}
    return {
        **cors,
        "access-control-allow-methods": _CORS_METHODS,
        "access-control-allow-headers": _CORS_HEADERS,
        "access-control-max-age": str(CORS_MAX_AGE),
    }


def _authorized(
    event: dict[str, Any], http: dict[str, Any], headers: dict[str, str], verifier: Any
) -> dict[str, Any] | None:
    """None when the request may go on (claims put in the event); else the 401 to send."""
    if verifier is None or (http["method"] == "GET" and event.get("rawPath") == "/health"):
        return None
    token = _bearer(headers)
    if not token:
        return _unauthorized(
            "a bearer token is required (Authorization: Bearer TOKEN)", 'Bearer realm="votectl"'
        )
    try:
        claims = verifier.verify(token)  # as text, once per token the verifier keeps
    except Unauthorized as exc:
        said = str(exc).replace('"', "'")
        return _unauthorized(
            str(exc), f'Bearer realm="votectl", error="invalid_token", error_description="{said}"'
        )
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return None
