"""The vote contract: every rule of the issue, each able to fail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lambdas.contract import (
    MAX_BATCH,
    Invalid,
    Vote,
    decode_envelope,
    decode_request,
    latest_per_identity,
    pack,
    stored_voted_at,
)

GOOD = {"user_id": "u1", "title_id": "t1", "aspect": "story", "score": 4}


def body(**changes: object) -> bytes:
    vote = {**GOOD, **changes}
    return json.dumps({k: v for k, v in vote.items() if v is not ...}).encode()


def test_a_valid_vote_is_normalised_but_its_user_id_is_kept_exactly() -> None:
    [vote] = decode_request(body(user_id="  u1 ", title_id=" t1\t", aspect="STORY"))
    assert (vote.user_id, vote.title_id, vote.aspect, vote.score) == ("  u1 ", "t1", "story", 4)
    assert vote.voted_at is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user_id": "   "}, "user_id"),
        ({"user_id": "x" * 129}, "user_id"),
        ({"title_id": "a\x07b"}, "title_id"),
        ({"title_id": 7}, "title_id"),
        ({"aspect": "plot"}, "aspect"),
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": True}, "score"),
        ({"score": 4.0}, "score"),
        ({"score": "4"}, "score"),
        ({"score": ...}, "score"),
        ({"voted_at": "yesterday"}, "voted_at"),
        ({"voted_at": "2026-01-01T00:00:00"}, "voted_at"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_votes_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as info:
        decode_request(body(**changes))
    assert info.value.problems[0].field == field


def test_ids_of_128_characters_after_stripping_are_fine() -> None:
    [vote] = decode_request(body(title_id=" " + "x" * 128 + " ", user_id=" " + "x" * 126 + " "))
    assert (len(vote.title_id), len(vote.user_id)) == (128, 128)
    with pytest.raises(Invalid) as info:  # a user_id is not stripped: 130 characters
        decode_request(body(user_id=" " + "x" * 128 + " "))
    assert info.value.problems[0].field == "user_id"


def test_voted_at_more_than_five_minutes_ahead_is_rejected_but_four_is_fine() -> None:
    now = datetime.now(UTC)
    ok = (now + timedelta(minutes=4)).isoformat()
    late = (now + timedelta(minutes=6)).isoformat()
    assert decode_request(body(voted_at=ok))[0].voted_at is not None
    with pytest.raises(Invalid) as info:
        decode_request(body(voted_at=late))
    assert info.value.problems[0].field == "voted_at"


def test_voted_at_with_an_offset_is_stored_in_utc() -> None:
    [vote] = decode_request(body(voted_at="2026-01-01T02:00:00+02:00"))
    assert stored_voted_at(vote.voted_at) == "2026-01-01T00:00:00.000000+00:00"


def test_a_batch_reports_every_bad_vote_by_index() -> None:
    votes = [GOOD, {**GOOD, "aspect": "nope"}, GOOD, {**GOOD, "score": 9}]
    with pytest.raises(Invalid) as info:
        decode_request(json.dumps({"votes": votes}).encode())
    assert [(p.index, p.field) for p in info.value.problems] == [(1, "aspect"), (3, "score")]


@pytest.mark.parametrize("n", [0, MAX_BATCH + 1])
def test_batch_size_limits(n: int) -> None:
    with pytest.raises(Invalid) as info:
        decode_request(json.dumps({"votes": [GOOD] * n}).encode())
    assert info.value.problems[0].field == "votes"


def test_a_full_batch_decodes() -> None:
    assert len(decode_request(json.dumps({"votes": [GOOD] * MAX_BATCH}).encode())) == MAX_BATCH


@pytest.mark.parametrize("raw", [b"", b"{", b"nope", b"\xff\xfe"])
def test_malformed_json_is_invalid(raw: bytes) -> None:
    with pytest.raises(Invalid) as info:
        decode_request(raw)
    assert "JSON" in info.value.error


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"vote"', b"null", b'{"votes": {}}'])
def test_wrong_shapes_are_invalid(raw: bytes) -> None:
    with pytest.raises(Invalid):
        decode_request(raw)


def test_pack_splits_at_the_size_limit_and_round_trips() -> None:
    votes = [Vote(user_id=f"user-{i}", title_id="t", aspect="story", score=3) for i in range(500)]
    messages = pack(votes, "req-1", max_bytes=4096)
    assert len(messages) > 1
    assert all(len(m) <= 4096 for m in messages)
    decoded = [v for m in messages for v in decode_envelope(m)[0]]
    assert [v.user_id for v in decoded] == [v.user_id for v in votes]


def test_latest_per_identity_keeps_the_latest_then_the_highest_score() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    older = Vote(user_id="u", title_id="t", aspect="story", score=5, voted_at=t0)
    newer = Vote(
        user_id="u", title_id="t", aspect="story", score=1, voted_at=t0 + timedelta(seconds=1)
    )
    tie = Vote(
        user_id="u", title_id="t", aspect="story", score=2, voted_at=t0 + timedelta(seconds=1)
    )
    other = Vote(user_id="u", title_id="t", aspect="acting", score=3, voted_at=t0)
    for order in ([older, newer, tie, other], [tie, other, newer, older]):
        kept = {v.aspect: v.score for v, _ in latest_per_identity((v, None) for v in order)}
        assert kept == {"story": 2, "acting": 3}


def test_decode_envelope_salvages_valid_votes_and_reports_the_rest() -> None:
    message = json.dumps({"votes": [GOOD, {**GOOD, "score": 7}]})
    votes, problems = decode_envelope(message)
    assert [v.score for v in votes] == [4]
    assert problems[0].index == 1 and problems[0].field == "score"


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"no": "votes"}'])
def test_decode_envelope_rejects_what_is_no_envelope(raw: str) -> None:
    with pytest.raises(Invalid):
        decode_envelope(raw)
