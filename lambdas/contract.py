"""The vote contract: schema, limits, validation errors and queue-message packing.

Shared by the three handlers and by both targets. Standard library and msgspec only.

A vote's identity is (user_id, title_id, aspect). Among votes with the same identity the
table keeps the greatest ``order_key`` = (voted_at in UTC, score): the latest vote wins and
equal timestamps are broken by the higher score, so the outcome never depends on arrival order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import msgspec

__all__ = [
    "ASPECTS",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_FUTURE_SECONDS",
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
    "stored_voted_at",
    "voted_at_us",
]

ASPECTS = frozenset({"overall", "story", "acting", "visuals", "sound"})
MAX_ID_CHARS = 128
MAX_BATCH = 500
MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGE_BYTES = 256 * 1024
MAX_FUTURE_SECONDS = 300

T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

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
        self.user_id = _identifier("user_id", self.user_id)
        self.title_id = _identifier("title_id", self.title_id)
        aspect = self.aspect
        if aspect not in ASPECTS:
            aspect = aspect.strip().lower()
            if aspect not in ASPECTS:
                raise ValueError(f"aspect: must be one of {', '.join(sorted(ASPECTS))}")
            self.aspect = aspect
        voted_at = self.voted_at
        if voted_at is not None:
            if voted_at.timestamp() > time.time() + MAX_FUTURE_SECONDS:
                raise ValueError("voted_at: more than 5 minutes in the future")
            if voted_at.tzinfo is not UTC:
                self.voted_at = voted_at.astimezone(UTC)

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


def _identifier(field: str, value: str) -> str:
    stripped = value.strip()
    if stripped is value and 0 < len(value) <= MAX_ID_CHARS and value.isprintable():
        return value  # the common case, checked in C
    if not stripped or len(stripped) > MAX_ID_CHARS:
        raise ValueError(f"{field}: must be 1-{MAX_ID_CHARS} characters after stripping whitespace")
    if _CONTROL.search(stripped):
        raise ValueError(f"{field}: must not contain control characters")
    return stripped


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
    """A request or message that can never be valid; ``problems`` says where and why."""

    def __init__(self, error: str, problems: list[Problem]) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems


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


def _all_problems(raw: Any, problems: list[Problem]) -> list[Problem]:
    """Validate each vote of a batch on its own, so the client learns every bad one."""
    if isinstance(raw, dict) and isinstance(raw.get("votes"), list):
        for i, item in enumerate(raw["votes"][: MAX_BATCH + 1]):
            try:
                msgspec.convert(item, Vote)
            except msgspec.ValidationError as exc:
                problems.append(_problem(exc, i))
    return problems


def decode_request(body: bytes) -> list[Vote]:
    """A request body -> validated votes (one vote, or {"votes": [...]}); raises Invalid."""
    try:
        return [_vote_decoder.decode(body)]
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: catch it first
        if not str(exc).startswith("Object contains unknown field `votes`"):
            raise Invalid("invalid vote", [_problem(exc)]) from None
    except msgspec.DecodeError as exc:
        raise Invalid("body is not valid JSON", [Problem(message=str(exc))]) from None
    try:
        return _batch_decoder.decode(body).votes
    except msgspec.ValidationError as exc:
        problems = _all_problems(_any_decoder.decode(body), [])
        raise Invalid("invalid vote", problems or [_problem(exc)]) from None


def decode_envelope(body: bytes | str) -> tuple[list[Vote], list[Problem]]:
    """A queue message -> (valid votes, problems of the rest). Raises Invalid if unreadable."""
    try:
        return _envelope_decoder.decode(body).votes, []
    except msgspec.ValidationError:  # a subclass of DecodeError: catch it first
        pass
    except msgspec.DecodeError as exc:
        raise Invalid("message is not valid JSON", [Problem(message=str(exc))]) from None
    raw = _any_decoder.decode(body)
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
