"""Bearer tokens for the load tests, so an endpoint with auth jwt takes the same traffic.

    --token-file FILE        one token per line (``votectl token --count N``, or your IdP's); each
                             Locust user takes the next one and votes as that token's ``sub``
    --jwt-secret-file FILE   each user mints its own HS256 token (a fresh ``sub``), for local runs
    --jwt-issuer/--jwt-audience   the claims minted tokens carry (votectl-local / votectl)

Without either, requests carry no Authorization header (an open endpoint). BadClient adds the
token failures (``bad_token_requests``): each must get its 401, or 403 for another user's vote.
Speaks HTTP only: PyJWT mints, nothing from votectl is imported.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jwt
from _traffic import Vote, batch_json

__all__ = ["Identity", "Tokens", "add_arguments", "bad_token_requests", "token_cases"]

TOKEN_SECONDS = 24 * 3600
_JSON = {"content-type": "application/json"}
_VOTE = '{"title_id":"tt1","aspect":"story","score":3%s}'


def add_arguments(group: Any) -> None:
    group.add_argument("--token-file", default="", help="bearer tokens, one per line")
    group.add_argument("--jwt-secret-file", default="", help="mint HS256 tokens with this secret")
    group.add_argument("--jwt-issuer", default="votectl-local", help="iss of minted tokens")
    group.add_argument("--jwt-audience", default="votectl", help="aud of minted tokens")


@dataclass(frozen=True)
class Identity:
    """One Locust user's token: its subject and the headers that carry it."""

    sub: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {**_JSON, "authorization": f"Bearer {self.token}"}

    def own(self, votes: list[Vote], body: str) -> tuple[list[Vote], str]:
        """The votes (and their body) cast as this identity."""
        if all(v.user_id == self.sub for v in votes):
            return votes, body
        mine = [replace(v, user_id=self.sub) for v in votes]
        return mine, batch_json(mine) if body.startswith('{"votes"') else mine[0].json()


class Tokens:
    """This process's token source: a token file, a secret to mint with, or nothing."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.secret = b""
        self.issuer, self.audience = "", ""
        self._next = itertools.count()

    @property
    def enabled(self) -> bool:
        return bool(self.tokens or self.secret)

    def configure(self, options: Any) -> str | None:
        """Read the options; a usage error's text, or None."""
        token_file = getattr(options, "token_file", "")
        secret_file = getattr(options, "jwt_secret_file", "")
        if token_file and secret_file:
            return "give --token-file or --jwt-secret-file, not both"
        self.issuer, self.audience = options.jwt_issuer, options.jwt_audience
        try:
            if token_file:
                lines = Path(token_file).read_text().splitlines()
                self.tokens = [t.strip() for t in lines if t.strip() and not t.startswith("#")]
                if not self.tokens:
                    return f"--token-file {token_file} holds no token"
                for token in self.tokens:
                    subject(token)  # each must name its voter
            elif secret_file:
                self.secret = Path(secret_file).read_bytes().strip()
        except OSError as exc:
            return f"cannot read {exc.filename}: {exc.strerror}"
        except ValueError as exc:
            return f"--token-file {token_file}: {exc}"
        return None

    def take(self, fresh_user: str) -> Identity | None:
        """The next Locust user's identity; ``fresh_user`` is the sub of a minted token."""
        if self.tokens:
            token = self.tokens[next(self._next) % len(self.tokens)]
            return Identity(subject(token), token)
        if self.secret:
            return Identity(fresh_user, self.mint(fresh_user))
        return None

    def mint(self, sub: str, **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            **changes,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")


def subject(token: str) -> str:
    """A token's ``sub``, read without verifying (the endpoint verifies)."""
    try:
        sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError as exc:
        raise ValueError(f"not a JWT ({exc})") from None
    if not isinstance(sub, str) or not sub:
        raise ValueError("a token has no sub claim")
    if json.dumps(sub)[1:-1] != sub:  # votes are formatted, not encoded (see _traffic.Vote)
        raise ValueError(f"sub {sub!r} needs JSON escaping; use plain ids")
    return sub


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def bad_token_requests(
    identity: Identity, tokens: Tokens
) -> dict[str, tuple[dict[str, str], str, int]]:
    """kind -> (headers, body, the status the contract promises): token failures."""
    head, payload, signature = identity.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    vote = _VOTE % ""

    def bearer(token: str) -> dict[str, str]:
        return {**_JSON, "authorization": f"Bearer {token}"}

    cases = {
        "token-missing": (_JSON, vote, 401),
        "token-garbage": (bearer("not.a.jwt"), vote, 401),
        "token-bad-signature": (bearer(f"{head}.{payload}.{flipped}"), vote, 401),
        "token-alg-none": (bearer(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."), vote, 401),
        "token-other-user": (identity.headers, _VOTE % f',"user_id":"{identity.sub}-x"', 403),
    }
    if tokens.secret:  # well signed, wrong claims
        now = int(time.time())
        sub = identity.sub
        cases |= {
            "token-expired": (bearer(tokens.mint(sub, exp=now - 60)), vote, 401),
            "token-not-yet-valid": (bearer(tokens.mint(sub, nbf=now + 3600)), vote, 401),
            "token-wrong-issuer": (bearer(tokens.mint(sub, iss="someone-else")), vote, 401),
            "token-wrong-audience": (bearer(tokens.mint(sub, aud="another-api")), vote, 401),
        }
    return cases


Case = tuple[str, str, str | None, int, dict[str, str]]  # method, path, body, status, headers


def token_cases(
    malformed: dict[str, tuple[str, str, str | None, int]], identity: Identity, tokens: Tokens
) -> dict[str, Case]:
    """BadClient's requests with a token: the malformed ones carry a good token, and those due
    a 400 lose their user_id (so a foreign user_id does not make them a 403), plus each token
    failure. An oversized body stays as it is: its size is checked first."""
    cases: dict[str, Case] = {}
    for kind, (method, path, body, status) in malformed.items():
        if body is not None and status == 400:
            body = body.replace('"user_id":"u",', "")
        cases[kind] = (method, path, body, status, identity.headers)
    for kind, (headers, body, status) in bad_token_requests(identity, tokens).items():
        cases[kind] = ("POST", "/votes", body, status, headers)
    return cases
