"""Verified bearer tokens, kept so that a token sent again is not verified again.

API Gateway caches an authorizer's result keyed by the request's identity source (the
Authorization header) for ``authorizerResultTtlInSeconds``: 300 s by default, at most 3600
(https://docs.aws.amazon.com/apigateway/latest/api/API_Authorizer.html; on an HTTP API, for its
Lambda authorizers), and an HTTP API's JWT authorizer accepts a token while its ``exp`` is after
the current time (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
The local gateway keeps the tokens it verified (votectl/local/auth.py):

- the key is the exact token string; only tokens that verified are kept, so a junk, forged or
  expired token never enters, never evicts an entry, and is verified in full every time;
- an entry is good until the first of its token's ``exp`` plus the leeway and ``MAX_AGE_SECONDS``
  after it was verified (API Gateway's default result TTL); the verifier drops it when the key
  that verified it is no longer the key set's key for its ``kid`` (rotated or removed);
- at most ``MAX_ENTRIES`` entries and ``MAX_CHARS`` characters of tokens in all, of tokens up to
  ``MAX_TOKEN_CHARS`` (longer ones are verified every time), the least recently used evicted
  first (a kept token's claims take a few times its length). Filling it takes that many distinct
  tokens that verify, which only the issuer can sign (a token's text cannot be varied without
  breaking its signature: the signature segment must be canonical base64url, checked before
  an entry is kept).

Not thread-safe: one per gateway event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_AGE_SECONDS",
    "MAX_CHARS",
    "MAX_ENTRIES",
    "MAX_TOKEN_CHARS",
    "TokenCache",
    "Verified",
]

MAX_ENTRIES = 4096
MAX_TOKEN_CHARS = 4096
MAX_CHARS = 4 << 20
MAX_AGE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified token's claims, the key that verified it (under ``kid``) and its deadline."""

    claims: dict[str, Any]
    kid: str | None
    key: object
    until: float  # wall-clock seconds: the entry is good while time.time() < until


class TokenCache:
    """Verified tokens by their exact text, least recently used evicted first."""

    def __init__(
        self,
        entries: int = MAX_ENTRIES,
        max_token_chars: int = MAX_TOKEN_CHARS,
        max_age: float = MAX_AGE_SECONDS,
        max_chars: int = MAX_CHARS,
    ) -> None:
        self.entries = entries
        self.max_token_chars = max_token_chars
        self.max_age = max_age
        self.max_chars = max_chars
        self.chars = 0  # the kept tokens' characters, in all
        self._kept: OrderedDict[str, Verified] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, token: str, now: float) -> Verified | None:
        """The token's entry while it is good; an expired entry is dropped."""
        found = self._kept.get(token)
        if found is None:
            return None
        if now >= found.until:
            self.drop(token)
            return None
        self._kept.move_to_end(token)
        return found

    def put(self, token: str, verified: Verified, now: float) -> None:
        """Keep a token that verified at ``now`` (its entry lives ``max_age`` at most)."""
        if len(token) > self.max_token_chars or self.entries <= 0:
            return
        until = min(verified.until, now + self.max_age)
        self.drop(token)
        self._kept[token] = Verified(verified.claims, verified.kid, verified.key, until)
        self.chars += len(token)
        while len(self._kept) > self.entries or self.chars > self.max_chars:
            oldest, _ = self._kept.popitem(last=False)
            self.chars -= len(oldest)

    def drop(self, token: str) -> None:
        if self._kept.pop(token, None) is not None:
            self.chars -= len(token)

    def keep_only(self, current: Callable[[str | None], object]) -> None:
        """Drop every entry whose key is no longer ``current(kid)`` (the key set changed)."""
        stale = [t for t, v in self._kept.items() if current(v.kid) is not v.key]
        for token in stale:
            self.drop(token)
