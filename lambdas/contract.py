"""The vote contract: schema, limits, validation errors and queue-message packing.

Shared by the three handlers and by both targets. Standard library and msgspec only.

A vote's identity is (user_id, title_id, aspect). Among votes with the same identity the
table keeps the greatest ``order_key`` = (voted_at in UTC, score): the latest vote wins and
equal timestamps are broken by the higher score, so the outcome never depends on arrival order.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import msgspec

from lambdas.identifiers import MAX_ID_CHARS, identifier, subject

__all__ = [
    "ASPECTS",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_FUTURE_SECONDS",
    "MAX_ID_CHARS",
    "MAX_MESSAGE_BYTES",
    "Batch",
    "Envelope",
    "Invalid",
    "Problem",
    "Vote",
    "decode_envelope",
    "decode_request",
    "latest_per_identity",
    "pack",
    "refuse_repeated_keys",
    "require_json",
    "stored_voted_at",
    "voted_at_us",
]

ASPECTS = frozenset({"overall", "story", "acting", "visuals", "sound"})
MAX_BATCH = 500
MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGE_BYTES = 256 * 1024
MAX_FUTURE_SECONDS = 300

T = TypeVar("T")

Score = Annotated[int, msgspec.Meta(ge=1, le=5)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class Vote(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """One vote. Decoding it validates and normalises it (see ``__post_init__``)."""

    user_id: str
    title_id: str
    aspect: str
    score: Score
    voted_at: Timestamp | None = None

    def __post_init__(self) -> None:
        self.user_id = subject("user_id", self.user_id)  # exactly as sent: an opaque subject
        self.title_id = identifier("title_id", self.title_id)
        aspect = self.aspect
        if aspect not in ASPECTS:
            aspect = aspect.strip().lower()
            if aspect not in ASPECTS:
                raise ValueError(f"aspect: must be one of {', '.join(sorted(ASPECTS))}")
            self.aspect = aspect
        voted_at = self.voted_at
        if voted_at is not None:
            try:  # an offset can carry 0001-01-01 or 9999-12-31 out of datetime's range
                utc = voted_at if voted_at.tzinfo is UTC else voted_at.astimezone(UTC)
            except OverflowError:
                raise ValueError("voted_at: out of range once converted to UTC") from None
            self.voted_at = utc
        # how far ahead a client's voted_at may be is checked on requests only
        # (decode_request), not on queue messages: a local receipt stamp may run ahead of
        # the wall clock after it steps back (votectl/local/stamps.py), and it was accepted

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.user_id, self.title_id, self.aspect)

    @property
    def order_key(self) -> tuple[int, int]:
        """(voted_at in microseconds since the epoch, score): the greater one wins."""
        return (voted_at_us(self.voted_at), self.score)


class Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    votes: Annotated[list[Vote], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class Envelope(msgspec.Struct, gc=False):
    """A queue message: votes packed by the receiver or the processor."""

    votes: list[Vote]
    request_id: str = ""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def voted_at_us(value: datetime | None) -> int:
    """Microseconds since the epoch: exact, and cheaper than formatting (the local table's key)."""
    return -1 if value is None else (value - _EPOCH) // _MICROSECOND


def stored_voted_at(value: datetime | None) -> str:
    """The fixed-width UTC form kept in DynamoDB: it sorts as the instants it names."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# --- errors -----------------------------------------------------------------------------


class Problem(msgspec.Struct, omit_defaults=True):
    message: str
    index: int | None = None
    field: str | None = None


class Invalid(Exception):
    """A request or message that can never be valid; ``problems`` says where and why.
    ``status``: the HTTP status that answers it (400, or 415 for a body that is not JSON)."""

    def __init__(self, error: str, problems: list[Problem], status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems
        self.status = status


def require_json(headers: dict[str, str] | None) -> None:
    """Raise Invalid (415) unless the request says its body is JSON (application/json or
    application/*+json). A browser sends text/plain, a form or no type at all without a CORS
    preflight, so this also keeps other sites' pages from voting through their visitors."""
    headers = headers or {}
    given = headers.get("content-type")
    if given == "application/json":
        return  # the common case
    if given is None:  # API Gateway lower-cases names; other event sources may not
        given = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    media = given.partition(";")[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        problem = Problem(message=f"got {given!r}" if given else "missing", field="content-type")
        raise Invalid("Content-Type must be application/json", [problem], 415)


_PATH = re.compile(r" - at `\$(?:\.votes\[(\d+)\])?(?:\.(\w+))?[^`]*`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")


def _problem(exc: msgspec.ValidationError, index: int | None = None) -> Problem:
    """Turn msgspec's one-line error into index/field/message."""
    text = str(exc)
    field = None
    m = _PATH.search(text)
    if m:
        text = text[: m.start()]
        if m.group(1) is not None:
            index = int(m.group(1))
        field = m.group(2)
    unknown = _UNKNOWN.match(text)
    if unknown:
        return Problem(message="unknown field", index=index, field=unknown.group(1))
    head, sep, tail = text.partition(": ")
    if sep and head in Vote.__struct_fields__:
        return Problem(message=tail, index=index, field=head)
    if text.startswith("Object missing required field"):
        missing = text.split("`")[1]
        return Problem(message="required", index=index, field=missing)
    return Problem(message=text, index=index, field=field)


# --- decoding ---------------------------------------------------------------------------

_vote_decoder = msgspec.json.Decoder(Vote)
_batch_decoder = msgspec.json.Decoder(Batch)
_envelope_decoder = msgspec.json.Decoder(Envelope)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def _all_problems(body: bytes) -> list[Problem]:
    """Validate each vote of a batch on its own, so the client learns every bad one."""
    problems: list[Problem] = []
    try:
        raw = _any_decoder.decode(body)
    except msgspec.DecodeError:  # valid JSON to the typed decoder, not to this one (1e400)
        return problems
    if isinstance(raw, dict) and isinstance(raw.get("votes"), list):
        for i, item in enumerate(raw["votes"][: MAX_BATCH + 1]):
            try:
                msgspec.convert(item, Vote)
            except msgspec.ValidationError as exc:
                problems.append(_problem(exc, i))
    return problems


def decode_request(body: bytes) -> list[Vote]:
    """A request body -> validated votes (one vote, or {"votes": [...]}); raises Invalid.

    Raises nothing else, whatever the bytes: a handler answers every Invalid with a 400."""
    try:
        votes, batch = [_vote_decoder.decode(body)], False  # the common case, first
    except Exception:  # any other shape, or any problem: the full path says which
        votes, batch = _decode_carefully(body)
    if _may_repeat_keys(body, votes, batch):
        refuse_repeated_keys(body)
    _refuse_future(votes, batch)
    return votes


def _refuse_future(votes: list[Vote], batch: bool) -> None:
    """Invalid if a vote's voted_at is more than MAX_FUTURE_SECONDS ahead of this host."""
    limit = time.time() + MAX_FUTURE_SECONDS
    problems = [
        Problem("more than 5 minutes in the future", i if batch else None, "voted_at")
        for i, vote in enumerate(votes)
        if vote.voted_at is not None and vote.voted_at.timestamp() > limit
    ]
    if problems:
        raise Invalid("invalid vote", problems)


def _decode_carefully(body: bytes) -> tuple[list[Vote], bool]:
    try:
        return _decode_request(body)
    except RecursionError:
        raise Invalid("body is nested too deeply", [Problem(message="nested too deeply")]) from None
    except UnicodeDecodeError as exc:
        raise Invalid("body is not valid JSON", [Problem(message=f"not UTF-8: {exc}")]) from None


def _decode_request(body: bytes) -> tuple[list[Vote], bool]:
    """(votes, whether the body was a batch)."""
    try:
        return [_vote_decoder.decode(body)], False
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: catch it first
        if str(exc).startswith("Object contains unknown field `votes`"):
            pass
        elif _LEAP_SECOND.search(body) and "voted_at" in str(exc):
            return _convert_each(body, False), False
        else:
            raise Invalid("invalid vote", [_problem(exc)]) from None
    except msgspec.DecodeError as exc:
        raise Invalid("body is not valid JSON", [Problem(message=str(exc))]) from None
    try:
        return _batch_decoder.decode(body).votes, True
    except msgspec.ValidationError as exc:
        if _LEAP_SECOND.search(body):
            return _convert_each(body, True), True
        raise Invalid("invalid vote", _all_problems(body) or [_problem(exc)]) from None
    except msgspec.DecodeError as exc:
        raise Invalid("body is not valid JSON", [Problem(message=str(exc))]) from None


# A leap second ("...T23:59:60Z"), which RFC 3339 allows and datetime cannot hold: it is read
# as the last microsecond of the second before, so it still sorts after that second's votes.
_LEAP_SECOND = re.compile(rb"T\d\d:\d\d:60(?:\.\d+)?(?=Z|z|[+-]\d\d:\d\d)")
_LEAP_TEXT = re.compile(_LEAP_SECOND.pattern.decode() + "(?:Z|z|[+-]\\d\\d:\\d\\d)$")


def _without_leap_second(item: Any) -> Any:
    if isinstance(item, dict):
        at = item.get("voted_at")
        if isinstance(at, str) and _LEAP_TEXT.search(at):
            cut = at.index(":60", at.index("T"))
            zone = at[cut + 3 :].lstrip(".0123456789")
            return {**item, "voted_at": f"{at[:cut]}:59.999999{zone}"}
    return item


def _convert_each(body: bytes, batch: bool) -> list[Vote]:
    """The slow path for a body with a leap second: each vote converted on its own."""
    try:
        raw = _any_decoder.decode(body)
    except msgspec.DecodeError as exc:  # malformed past where the typed decoder stopped
        raise Invalid("body is not valid JSON", [Problem(message=str(exc))]) from None
    items: Any = raw.get("votes") if batch and isinstance(raw, dict) else [raw]
    if batch and (not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH):
        raise Invalid("invalid vote", [Problem(message=f"1-{MAX_BATCH} votes", field="votes")])
    if batch and len(raw) > 1:
        raise Invalid(
            "invalid vote", [Problem(message="unknown field", field=min(set(raw) - {"votes"}))]
        )
    votes: list[Vote] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        try:
            votes.append(msgspec.convert(_without_leap_second(item), Vote))
        except msgspec.ValidationError as exc:
            problems.append(_problem(exc, i if batch else None))
    if problems:
        raise Invalid("invalid vote", problems)
    return votes


def _may_repeat_keys(body: bytes, votes: list[Vote], batch: bool) -> bool:
    """False when the body cannot hold a repeated key (one count, at memchr speed).

    A vote's fields are all strings but the score, so a vote holds at least 7 strings (9 with
    a voted_at), a batch one more ("votes"), and so at least twice that many '"' bytes.
    Anything more (a repeated key, a null voted_at, an escaped quote) adds to the count,
    never takes from it: the exact count proves there is no repeat; otherwise look."""
    if batch:
        strings = 7 * len(votes) + 2 * sum(v.voted_at is not None for v in votes) + 1
    else:
        strings = 7 if votes[0].voted_at is None else 9
    return body.count(b'"') != 2 * strings


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = next(k for k in keys if keys.count(k) > 1)
        raise Invalid("invalid vote", [Problem(message="repeated key", field=repeated)])
    return dict(pairs)


def refuse_repeated_keys(body: bytes) -> None:
    """Raise Invalid if any object of the (already decoded, so well-formed) body repeats a
    key: JSON leaves it undefined, and taking the last would store what no one checked."""
    json.loads(body, object_pairs_hook=_pairs)


def decode_envelope(body: bytes | str) -> tuple[list[Vote], list[Problem]]:
    """A queue message -> (valid votes, problems of the rest). Raises Invalid if unreadable."""
    try:
        return _envelope_decoder.decode(body).votes, []
    except msgspec.ValidationError:  # a subclass of DecodeError: catch it first
        pass
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise Invalid("message is not valid JSON", [Problem(message=str(exc))]) from None
    try:
        raw = _any_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise Invalid("message is not a vote envelope", [Problem(message=str(exc))]) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("votes"), list):
        raise Invalid(
            "message is not a vote envelope", [Problem(message="expected {'votes': [...]}")]
        )
    votes: list[Vote] = []
    problems: list[Problem] = []
    for i, item in enumerate(raw["votes"]):
        try:
            votes.append(msgspec.convert(item, Vote))
        except msgspec.ValidationError as exc:
            problems.append(_problem(exc, i))
    return votes, problems


# --- packing ----------------------------------------------------------------------------

_HEAD = b'{"request_id":'
_MID = b',"votes":['
_TAIL = b"]}"


def pack(
    votes: list[Vote], request_id: str = "", max_bytes: int = MAX_MESSAGE_BYTES
) -> list[bytes]:
    """Encode votes into as few envelope messages as fit ``max_bytes`` each."""
    head = _HEAD + _encoder.encode(request_id) + _MID
    room = max_bytes - len(head) - len(_TAIL)
    messages: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for vote in votes:
        encoded = _encoder.encode(vote)
        if chunk and size + len(encoded) + 1 > room:
            messages.append(head + b",".join(chunk) + _TAIL)
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded) + 1
    if chunk:
        messages.append(head + b",".join(chunk) + _TAIL)
    return messages


def latest_per_identity(items: Iterable[tuple[Vote, T]]) -> list[tuple[Vote, T]]:
    """Drop duplicates within a batch, keeping the greatest order_key per identity.

    Each vote travels with a tag (the record it came from, say), returned beside it.
    """
    best: dict[tuple[str, str, str], tuple[Vote, T]] = {}
    for item in items:
        key = item[0].identity
        current = best.get(key)
        if current is None or item[0].order_key > current[0].order_key:
            best[key] = item
    return list(best.values())
