"""Fuzzing the endpoint against its OpenAPI contract (lambdas/openapi.py), on both targets:
the receiver handler with real API Gateway events (the AWS path), and a real `votectl up` over
HTTP. Whatever the request: no 5xx, every answer JSON of the documented shape, and nothing
stored from a rejected request. Bounded: a few hundred examples each."""

from __future__ import annotations

import json
import string
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from lambdas import receiver
from lambdas.contract import Invalid, decode_request
from lambdas.openapi import openapi
from tests.functional.conftest import Up, http_event
from votectl.local.queue import SqliteQueue

SPEC = openapi()
SCHEMAS = SPEC["components"]["schemas"]
DOCUMENTED = {
    path: {code for op in ops.values() for code in op["responses"]}
    for path, ops in SPEC["paths"].items()
}


def check_against(name: str, payload: Any) -> None:
    jsonschema.validate(payload, {"$ref": f"#/components/schemas/{name}", **SPEC})


# --- what a hostile client sends ----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
ids = st.text(max_size=140) | st.sampled_from(["u1", " t1 ", "\u200b", "a\ufffe", "é", ""])
stamps = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.sampled_from(
    ["2016-12-31T23:59:60Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "x"]
)


@st.composite
def votes(draw: st.DrawFn) -> dict[str, Any]:
    vote: dict[str, Any] = {
        "user_id": draw(ids | json_values),
        "title_id": draw(ids),
        "aspect": draw(st.sampled_from(["story", "OVERALL ", "plot"]) | json_values),
        "score": draw(st.integers(-1, 7) | json_values),
    }
    if draw(st.booleans()):
        vote["voted_at"] = draw(stamps | json_values)
    if draw(st.integers(0, 9)) == 0:
        vote[draw(st.text(max_size=8))] = draw(json_values)
    if draw(st.integers(0, 4)) == 0:
        del vote[draw(st.sampled_from(sorted(vote)))]
    return vote


def encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = st.one_of(
    votes().map(encode),
    st.lists(votes(), max_size=6).map(lambda v: encode({"votes": v})),
    json_values.map(encode),
    st.binary(max_size=200),
    st.tuples(votes().map(encode), st.integers(0, 60)).map(lambda t: t[0][: t[1]]),
    st.sampled_from(
        [
            b'{"votes":[1,',
            b'{"votes":[0,NaN]}',
            b'{"votes":[0,1e400]}',
            b'{"votes":[{"user_id":"\\ud800"}]}',
            b'{"user_id":"\xff","title_id":"t","aspect":"story","score":1}',
            b'{"votes":' + b"[" * 1000,
            b'{"user_id":"a","user_id":"b","title_id":"t","aspect":"story","score":1}',
        ]
    ),
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", None]
)
routes = st.sampled_from(
    [("POST", "/votes")] * 6
    + [("GET", "/votes"), ("GET", "/health"), ("POST", "/health"), ("POST", "/vot%65s")]
)


def accepted_identities(body: bytes) -> set[tuple[str, str, str]]:
    """The identities the contract accepts from ``body`` (the bookkeeping of the test)."""
    try:
        return {v.identity for v in decode_request(body)}
    except Invalid:
        return set()


# --- the receiver, as Lambda runs it --------------------------------------------------------


def test_the_served_contract_is_valid_openapi_3_1() -> None:
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.1")


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> SqliteQueue:
    return SqliteQueue(tmp_path_factory.mktemp("fuzz") / "votes.db", "votes")


def depth(queue: SqliteQueue) -> int:
    return sum(s.visible for s in queue.stats() if not s.dlq)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=routes,
    body=bodies,
    content_type=content_types,
    b64=st.booleans(),
    template=st.sampled_from(["apigw-http-api-v2.json", "lambda-function-url.json"]),
)
def test_the_receiver_answers_every_event_within_its_contract(
    queue: SqliteQueue,
    route: tuple[str, str],
    body: bytes,
    content_type: str | None,
    b64: bool,
    template: str,
) -> None:
    method, path = route
    if not b64:
        try:
            body.decode()
        except UnicodeDecodeError:
            b64 = True  # API Gateway sends a body that is not UTF-8 as base64
    event = http_event(method, path, body, b64, template, content_type)
    handle = receiver.make_handler(queue)
    before = depth(queue)
    response = handle(event, None)
    status = response["statusCode"]
    payload = json.loads(response["body"])
    assert response["headers"]["content-type"] == "application/json"
    assert status < 500
    documented = DOCUMENTED.get(path, DOCUMENTED["/votes"]) | {"404"}
    assert str(status) in documented
    if status == 202:
        check_against("Accepted", payload)
        assert payload["accepted"] == len(decode_request(body))
        assert depth(queue) > before
    elif status == 200:
        check_against("Health", payload)
    else:
        check_against("Error", payload)
        assert depth(queue) == before  # nothing queued from a rejected request


# --- a real `votectl up`, over HTTP ----------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.functional.conftest import started_up

    with started_up(
        tmp_path_factory.mktemp("fuzz-up") / "local", "--visibility-timeout", "2"
    ) as up:
        yield {"up": up, "identities": set()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=routes,
    body=bodies,
    content_type=content_types,
    header=st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20),
)
def test_votectl_up_answers_every_request_within_its_contract(
    served: dict[str, Any],
    route: tuple[str, str],
    body: bytes,
    content_type: str | None,
    header: str,
) -> None:
    up: Up = served["up"]
    method, path = route
    headers = {"x-" + header: "1"}
    if content_type is not None:
        headers["content-type"] = content_type
    with httpx.Client(base_url=up.url, timeout=10) as client:
        response = client.request(method, path, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    if response.status_code == 202:
        check_against("Accepted", payload)
        served["identities"] |= accepted_identities(body)
    elif response.status_code != 200:
        check_against("Error", payload)


def test_votectl_up_stored_exactly_what_it_accepted(served: dict[str, Any]) -> None:
    """Runs after the fuzzing above (same module): nothing rejected reached the table."""
    up: Up = served["up"]
    with httpx.Client(base_url=up.url, timeout=10) as client:
        spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json() == SPEC
    up.drained(timeout=120)
    assert up.stored() == len(served["identities"])
    assert not any(q["visible"] for q in up.json("queue", "stats")["queues"] if q["dlq"])
