"""The endpoint's machine-readable contract: OpenAPI 3.1, made from the contract's msgspec types.

Served at GET /openapi.json by the receiver (so by both targets), and used by the fuzz tests.
Rules that live in code rather than in types (user_id kept exactly, title_id stripped and
NFC-normalised, no invisible characters, voted_at at most 5 minutes ahead, repeated keys
refused) are given as descriptions.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from lambdas.contract import ASPECTS, MAX_BODY_BYTES, MAX_FUTURE_SECONDS, Batch, Problem, Vote
from lambdas.identifiers import MAX_ID_CHARS

__all__ = ["Accepted", "Error", "Health", "openapi"]


class Accepted(msgspec.Struct):
    accepted: int
    request_id: str


class Error(msgspec.Struct):
    """Every error the endpoint answers: a sentence, and where the problems are."""

    error: str
    details: list[Problem]


class Health(msgspec.Struct):
    status: str


_REFUSED = (
    "no control, format or invisible characters, nothing an SQS message cannot carry "
    "(U+FFFE, U+FFFF)."
)
_FIELDS = {
    "user_id": (
        f"1-{MAX_ID_CHARS} characters, not all whitespace, kept exactly as sent (an opaque"
        " subject: never stripped or normalised; with a token it must equal the token's sub);"
        f" {_REFUSED}"
    ),
    "title_id": (
        f"1-{MAX_ID_CHARS} characters once stripped of surrounding whitespace and NFC-normalised;"
        f" {_REFUSED}"
    ),
    "aspect": f"One of {', '.join(sorted(ASPECTS))} (case and surrounding space ignored).",
    "voted_at": (
        "RFC 3339 with an offset; at most "
        f"{MAX_FUTURE_SECONDS // 60} minutes ahead; a leap second (:60) counts as the last "
        "microsecond of the second before. Absent: the time the endpoint received it."
    ),
}
_ERRORS = {
    "400": "Malformed JSON, an invalid vote (details name each by index and field), a repeated "
    "key, or a request HTTP cannot parse",
    "404": "No such route",
    "405": "Wrong method for the route",
    "408": "The request did not arrive in time (local endpoint)",
    "413": f"Body over {MAX_BODY_BYTES} bytes",
    "415": "Content-Type is not application/json",
    "431": "Request line and headers over 10,240 bytes, or over 100 headers (local endpoint)",
    "503": "Nothing was stored; retry",
}


def _error_responses(*codes: str) -> dict[str, Any]:
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {code: {"description": _ERRORS[code], "content": json_error} for code in codes}


@functools.cache
def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once)."""
    types = [Vote, Batch, Accepted, Error, Health]
    _, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    for name, text in _FIELDS.items():
        components["Vote"]["properties"][name]["description"] = text
    components["Vote"]["description"] = "One vote; its identity is (user_id, title_id, aspect)."
    components["Batch"]["description"] = "Up to 500 votes, accepted or refused together."

    def ok(status: str, text: str, schema: str) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{schema}"}
        return {status: {"description": text, "content": {"application/json": {"schema": ref}}}}

    body = {
        "required": True,
        "description": f"A vote or a batch; at most {MAX_BODY_BYTES} bytes; no repeated keys.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Vote"},
                        {"$ref": "#/components/schemas/Batch"},
                    ]
                }
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "votectl vote ingestion", "version": "1"},
        "paths": {
            "/votes": {
                "post": {
                    "operationId": "postVotes",
                    "requestBody": body,
                    "responses": {
                        **ok("202", "Queued: will be stored", "Accepted"),
                        **_error_responses("400", "405", "408", "413", "415", "431", "503"),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "responses": {**ok("200", "Up", "Health"), **_error_responses("405")},
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": {"description": "This document"}},
                }
            },
        },
        "components": {"schemas": components},
    }
