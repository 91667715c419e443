"""The gateway's pure parts: the HTTP API event it builds (checked against a real one) and its
reading of receiver responses. The ASGI app itself runs in tests/functional, in `votectl up`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from votectl.local.gateway import _accepted, _headers, http_api_event


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ('{"accepted":1,"request_id":"r1"}', 1),  # the receiver's own shape
        ('{"accepted":500,"request_id":"r2"}', 500),
        ('{"request_id":"r3","accepted":7}', 7),  # another key order: decoded
        ('{"accepted":-1,"request_id":"r4"}', -1),
        ('{"error":"x"}', 0),
        ("not json", 0),
        ("", 0),
    ],
)
def test_accepted_count_is_read_from_any_202_body(body: str, count: int) -> None:
    assert _accepted(body) == count


def _real_event() -> dict[str, Any]:
    path = Path(__file__).parents[1] / "fixtures" / "events" / "apigw-http-api-v2.json"
    return dict(json.loads(path.read_text()))


def test_the_event_has_the_shape_of_a_real_http_api_event() -> None:
    raw = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
    event = http_api_event("POST", "/votes", "a=1", _headers(raw), b"{}", "rid", "10.0.0.1")
    real = _real_event()
    # what API Gateway adds only with a route's parameters, an authorizer or stage variables
    optional = {"pathParameters", "stageVariables", "cookies"}
    assert set(event) <= set(real) and set(real) - set(event) <= optional
    context = real["requestContext"]
    assert set(event["requestContext"]) == set(context) - {"authentication", "authorizer"}
    assert set(event["requestContext"]["http"]) == set(context["http"])
    for key in ("version", "routeKey", "isBase64Encoded"):
        assert type(event[key]) is type(real[key])
    assert type(event["requestContext"]["timeEpoch"]) is type(context["timeEpoch"])
    assert event["headers"] == {"host": "127.0.0.1:8000", "content-type": "application/json"}
    assert event["queryStringParameters"] == {"a": "1"}


def test_repeated_query_parameters_are_joined_with_commas_as_in_the_real_event() -> None:
    real = _real_event()
    event = http_api_event("GET", "/health", real["rawQueryString"], {}, b"", "rid", "10.0.0.1")
    assert event["queryStringParameters"] == real["queryStringParameters"]
    assert http_api_event("GET", "/", "b=", {}, b"", "r", "ip")["queryStringParameters"] == {
        "b": ""
    }


def test_repeated_headers_are_joined_and_cookies_split_as_api_gateway_does() -> None:
    raw = [(b"accept", b"a/b"), (b"cookie", b"k1=v1; k2=v2"), (b"accept", b"c/d")]
    event = http_api_event("GET", "/health", "", _headers(raw), b"", "rid", "10.0.0.1")
    assert event["headers"] == {"accept": "a/b,c/d"}
    assert event["cookies"] == ["k1=v1", "k2=v2"]
    assert "body" not in event  # no body: no key, as API Gateway sends it


def test_a_body_that_is_not_utf8_is_sent_base64_encoded() -> None:
    event = http_api_event("POST", "/votes", "", {}, b"\xff\xfe", "rid", "10.0.0.1")
    assert event["isBase64Encoded"] is True and event["body"] == "//4="


def _request(n: int, votes: int = 2) -> bytes:
    from lambdas.contract import Vote, pack

    return pack(
        [Vote(user_id=f"u{n}-{i}", title_id="t", aspect="story", score=3) for i in range(votes)],
        f"req{n}",
    )[0]


def test_a_group_commit_is_packed_into_messages_the_processor_reads() -> None:
    from lambdas.envelope import read
    from votectl.local.gateway import pack_group

    bodies = [_request(n) for n in range(10)]
    packed = pack_group(bodies, 256 * 1024)
    assert len(packed) == 1
    message = read(packed[0])
    assert message.correlation_ids == [f"req{n}" for n in range(10)]
    assert [v.user_id for v in message.votes] == [f"u{n}-{i}" for n in range(10) for i in (0, 1)]
    assert json.loads(packed[0])["votes"] == [v for b in bodies for v in json.loads(b)["votes"]]


def test_packing_keeps_each_message_under_the_size_limit_and_loses_no_vote() -> None:
    from lambdas.envelope import read
    from votectl.local.gateway import pack_group

    bodies = [_request(n, votes=5) for n in range(50)]
    limit = 3 * len(bodies[0])
    packed = pack_group(bodies, limit)
    assert len(packed) > 1 and all(len(m) <= limit for m in packed)
    votes = [v.user_id for m in packed for v in read(m).votes]
    assert votes == [f"u{n}-{i}" for n in range(50) for i in range(5)]
    assert [i for m in packed for i in read(m).correlation_ids] == [f"req{n}" for n in range(50)]


def test_a_lone_request_and_foreign_bodies_are_sent_as_they_came() -> None:
    from votectl.local.gateway import pack_group

    one = [_request(1)]
    assert pack_group(one, 256 * 1024) == one
    foreign = b'{"votes":[]}'
    packed = pack_group([_request(1), foreign, _request(2)], 256 * 1024)
    assert foreign in packed and len(packed) == 2
