"""Hostile bodies (issue 9, item 5 and 9; issue 8, item 2): each is refused with Invalid,
naming the problem, and nothing else ever escapes the contract."""

from __future__ import annotations

import json

import pytest

from lambdas.contract import Invalid, decode_envelope, decode_request, require_json

GOOD = {"user_id": "u1", "title_id": "t1", "aspect": "story", "score": 4}


def vote(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"votes":[1,',
        b'{"votes":[0,NaN]}',
        b'{"votes":[0,1e400]}',
        b'{"votes":[{"user_id":"\\ud800"}]}',
        b'{"user_id":"\xff","title_id":"t","aspect":"story","score":1}',
        b'{"votes":' + b"[" * 1000,
        b'{"votes":[' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b'{"votes":[{"user_id":"u","title_id":"t","aspect":"story","score":1e400}]}',
    ],
    ids=["truncated", "NaN", "1e400", "surrogate", "0xff", "deep-open", "deep", "score-1e400"],
)
def test_malformed_bodies_are_invalid_not_errors(raw: bytes) -> None:
    with pytest.raises(Invalid) as info:
        decode_request(raw)
    assert info.value.status == 400 and info.value.error


@pytest.mark.parametrize("voted_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_instant_out_of_range_in_utc_names_voted_at(voted_at: str) -> None:
    with pytest.raises(Invalid) as info:
        decode_request(vote(voted_at=voted_at))
    assert info.value.problems[0].field == "voted_at"


def test_a_leap_second_is_the_last_microsecond_of_the_second_before() -> None:
    [leap] = decode_request(vote(voted_at="2016-12-31T23:59:60Z"))
    [before] = decode_request(vote(voted_at="2016-12-31T23:59:59.5Z"))
    [after] = decode_request(vote(voted_at="2017-01-01T00:00:00Z"))
    assert before.order_key < leap.order_key < after.order_key
    [shifted] = decode_request(vote(voted_at="2016-12-31T23:59:60.25+00:00"))
    assert shifted.voted_at == leap.voted_at


def test_a_leap_second_in_a_batch_still_reports_the_other_problems() -> None:
    body = json.dumps(
        {"votes": [{**GOOD, "voted_at": "2016-12-31T23:59:60Z"}, {**GOOD, "score": 9}]}
    )
    with pytest.raises(Invalid) as info:
        decode_request(body.encode())
    assert [(p.index, p.field) for p in info.value.problems] == [(1, "score")]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"user_id":"u","user_id":"v","title_id":"t","aspect":"story","score":1}',
        b'{"user_id":"u","title_id":"t","aspect":"story","score":1,"score":5}',
        b'{"user_id":"u","title_id":"t","aspect":"story","score":1,"voted_at":null,'
        b'"voted_at":"2020-01-01T00:00:00Z"}',
        b'{"votes":[{"user_id":"u","title_id":"t","aspect":"story","score":1}],'
        b'"votes":[{"user_id":"v","title_id":"t","aspect":"story","score":1}]}',
        b'{"user\\u005fid":"u","user_id":"v","title_id":"t","aspect":"story","score":1}',
    ],
)
def test_a_repeated_key_is_refused_not_silently_the_last(raw: bytes) -> None:
    with pytest.raises(Invalid) as info:
        decode_request(raw)
    assert info.value.problems[0].message == "repeated key"


def test_bodies_without_repeats_pass_the_repeat_check() -> None:
    with_null = b'{"user_id":"u\\"q","title_id":"null","aspect":"story","score":1,"voted_at":null}'
    assert decode_request(with_null)[0].user_id == 'u"q'
    batch = json.dumps({"votes": [GOOD, {**GOOD, "voted_at": "2020-01-01T00:00:00Z"}]})
    assert len(decode_request(batch.encode())) == 2


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("\u200b", "U+200B"),
        ("a\u200db", "U+200D"),
        ("\u202eevil", "U+202E"),
        ("\ufeffbom", "U+FEFF"),
        ("a\u2028b", "U+2028"),
        ("a\u00a0b", "U+00A0"),
        ("\u3164", "U+3164"),
        ("x\ufffe", "SQS"),
        ("x\uffff", "SQS"),
    ],
)
def test_ids_with_invisible_or_unsendable_characters_name_the_field(value: str, why: str) -> None:
    for field in ("user_id", "title_id"):
        with pytest.raises(Invalid) as info:
            decode_request(vote(**{field: value}))
        [problem] = info.value.problems
        assert problem.field == field and why in problem.message


def test_title_ids_are_nfc_normalised_so_one_name_is_one_identity() -> None:
    [composed] = decode_request(vote(title_id="caf\u00e9"))
    [decomposed] = decode_request(vote(title_id="cafe\u0301"))
    assert composed.identity == decomposed.identity


@pytest.mark.parametrize(("a", "b"), [("jos\u00e9", "jose\u0301"), (" bob ", "bob")])
def test_user_ids_are_opaque_subjects_kept_byte_for_byte(a: str, b: str) -> None:
    """RFC 7519 4.1.2: a subject is a case-sensitive string; two spellings are two people."""
    [first] = decode_request(vote(user_id=a))
    [second] = decode_request(vote(user_id=b))
    assert (first.user_id, second.user_id) == (a, b)
    assert first.identity != second.identity


def test_visible_non_ascii_ids_are_fine() -> None:
    [v] = decode_request(vote(user_id="Zoë 🎬", title_id="千と千尋"))
    assert (v.user_id, v.title_id) == ("Zoë 🎬", "千と千尋")


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},
        {"content-type": "application/json; charset=utf-8"},
        {"Content-Type": "Application/JSON"},
        {"content-type": "application/vnd.votes+json"},
    ],
)
def test_json_content_types_are_accepted(headers: dict[str, str]) -> None:
    require_json(headers)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"content-type": "text/plain;charset=UTF-8"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "multipart/form-data; boundary=x"},
    ],
)
def test_other_content_types_get_415(headers: dict[str, str] | None) -> None:
    with pytest.raises(Invalid) as info:
        require_json(headers)
    assert info.value.status == 415 and info.value.problems[0].field == "content-type"


@pytest.mark.parametrize(
    "raw", [b"[" * 5000, b'{"votes":[{"a":1e400}]}', b"\xff"], ids=["deep", "1e400", "0xff"]
)
def test_unreadable_queue_messages_are_invalid(raw: bytes) -> None:
    with pytest.raises(Invalid):
        decode_envelope(raw)


def test_a_leap_second_beside_malformed_json_is_invalid_not_an_error() -> None:
    leap = {**GOOD, "score": 0, "voted_at": "2016-12-31T23:59:60Z"}
    raw = json.dumps({"votes": [leap, {**GOOD, "score": float("inf")}]}).encode()
    with pytest.raises(Invalid) as info:
        decode_request(raw)
    assert info.value.status == 400
