"""Verified tokens kept by the gateway's ``Verifier`` (votectl/local/token_cache.py): a kept token
still expires at exp + leeway, goes when its key leaves or changes in the JWKS, and what does not
verify (junk, forgeries) never enters, so it can neither grow the cache nor evict from it."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.functional.conftest import poll
from tests.functional.test_jwks_refresh import AUDIENCE as JWKS_AUDIENCE
from tests.functional.test_jwks_refresh import ISSUER as JWKS_ISSUER
from tests.functional.test_jwks_refresh import Issuer
from tests.functional.test_jwks_refresh import token as signed
from votectl.local.auth import AuthSettings, Unauthorized, Verifier
from votectl.local.token_cache import MAX_AGE_SECONDS, TokenCache

SECRET = b"k" * 40
ISSUER, AUDIENCE = "votectl-local", "votectl"
T0 = 2_000_000_000.0  # the test's clock: tokens are dated from it


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def claims(sub: str = "ana", exp: float = T0 + 10, **more: Any) -> dict[str, Any]:
    return {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": T0, "exp": exp, **more}


@pytest.fixture
def secret_settings(tmp_path: Path) -> AuthSettings:
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    return AuthSettings("jwt", secret_file=str(path), leeway=60)


def verdict(verifier: Verifier, token: str) -> str:
    try:
        return verifier.verify(token)["sub"]
    except Unauthorized as exc:
        return str(exc)


def test_a_kept_token_expires_at_exp_plus_the_leeway_as_an_unkept_one_does(
    secret_settings: AuthSettings,
) -> None:
    clock = Clock()
    kept = Verifier(secret_settings, clock=clock)
    fresh = Verifier(secret_settings, clock=clock, cache=TokenCache(entries=0))
    token = jwt.encode(claims(exp=T0 + 10), SECRET, "HS256")
    assert verdict(kept, token) == "ana" and len(kept.cache) == 1
    entry = kept.cache.get(token, T0)
    assert entry is not None and entry.until == T0 + 10 + 60
    for now in (T0 + 5, T0 + 69.5, T0 + 69.999, T0 + 70, T0 + 71, T0 + 3600):
        clock.now = now
        assert verdict(kept, token) == verdict(fresh, token), now
    assert verdict(kept, token) == "the token has expired"
    assert len(kept.cache) == 0


def test_a_kept_token_is_verified_again_after_api_gateways_default_ttl(
    secret_settings: AuthSettings,
) -> None:
    clock = Clock()
    verifier = Verifier(secret_settings, clock=clock)
    token = jwt.encode(claims(exp=T0 + 86400), SECRET, "HS256")
    verifier.verify(token)
    first = verifier.cache.get(token, T0)
    assert first is not None and first.until == T0 + MAX_AGE_SECONDS
    clock.now = T0 + MAX_AGE_SECONDS
    assert verifier.cache.get(token, clock.now) is None  # gone: the next request verifies it
    assert verdict(verifier, token) == "ana"
    again = verifier.cache.get(token, clock.now)
    assert again is not None and again.until == clock.now + MAX_AGE_SECONDS


def test_kept_claims_are_the_callers_to_change(secret_settings: AuthSettings) -> None:
    verifier = Verifier(secret_settings, clock=Clock())
    token = jwt.encode(claims(), SECRET, "HS256")
    verifier.verify(token)["sub"] = "mallory"
    assert verifier.verify(token)["sub"] == "ana"


def junk(n: int) -> str:
    """A token-shaped string whose signature cannot verify (a random 'signature')."""
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
    payload = jwt.utils.base64url_encode(json.dumps(claims(sub=f"u{n}")).encode()).decode()
    return f"{header}.{payload}.{jwt.utils.base64url_encode(secrets.token_bytes(32)).decode()}"


def test_tokens_that_do_not_verify_never_enter_nor_evict(secret_settings: AuthSettings) -> None:
    verifier = Verifier(secret_settings, clock=Clock(), cache=TokenCache(entries=8))
    good = jwt.encode(claims(), SECRET, "HS256")
    verifier.verify(good)
    attempts = [junk(n) for n in range(5000)]
    attempts += [secrets.token_urlsafe(40) for _ in range(1000)]  # not even token-shaped
    attempts += [jwt.encode(claims(), b"z" * 40, "HS256")]  # signed with another key
    for token in attempts:
        with pytest.raises(Unauthorized):
            verifier.verify(token)
    assert len(verifier.cache) == 1 and verifier.cache.get(good, T0) is not None


def test_a_tokens_text_cannot_be_varied_into_more_entries(secret_settings: AuthSettings) -> None:
    """The signature's last character carries spare bits in base64url: every other spelling is
    refused (or, with a lenient decoder, not kept), so one token is at most one entry."""
    verifier = Verifier(secret_settings, clock=Clock())
    token = jwt.encode(claims(), SECRET, "HS256")
    verifier.verify(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for other in alphabet.replace(token[-1], ""):
        with contextlib.suppress(Unauthorized):
            verifier.verify(token[:-1] + other)
    assert len(verifier.cache) == 1


def test_valid_tokens_beyond_the_bound_evict_the_least_recently_used(
    secret_settings: AuthSettings,
) -> None:
    verifier = Verifier(secret_settings, clock=Clock(), cache=TokenCache(entries=16))
    tokens = [jwt.encode(claims(sub=f"u{n}"), SECRET, "HS256") for n in range(100)]
    for n, token in enumerate(tokens):
        verifier.verify(token)
        verifier.verify(tokens[0])  # in use all along
        assert len(verifier.cache) == min(n + 1, 16)
    assert verifier.cache.get(tokens[0], T0) is not None
    assert verifier.cache.get(tokens[1], T0) is None
    assert verifier.cache.get(tokens[-1], T0) is not None


def test_long_tokens_are_bounded_by_their_characters_in_all(
    secret_settings: AuthSettings,
) -> None:
    verifier = Verifier(secret_settings, clock=Clock(), cache=TokenCache(max_chars=20_000))
    tokens = [jwt.encode(claims(sub=f"u{n}", pad="p" * 2000), SECRET, "HS256") for n in range(20)]
    for n, token in enumerate(tokens):
        assert verdict(verifier, token) == f"u{n}"
        assert verifier.cache.chars <= 20_000
    assert 0 < len(verifier.cache) == 20_000 // len(tokens[0])
    assert verifier.cache.chars == sum(len(t) for t in tokens[-len(verifier.cache) :])


def test_tokens_over_the_size_limit_are_verified_every_time(
    secret_settings: AuthSettings,
) -> None:
    verifier = Verifier(secret_settings, clock=Clock(), cache=TokenCache(max_token_chars=300))
    big = jwt.encode(claims(groups=["g" * 400]), SECRET, "HS256")
    assert verdict(verifier, big) == "ana" and len(verifier.cache) == 0


# --- a JWKS URL whose keys rotate --------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


def jwks(**by_kid: rsa.RSAPrivateKey) -> bytes:
    entries = [
        {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "alg": "RS256"}
        for kid, key in by_kid.items()
    ]
    return json.dumps({"keys": entries}).encode()


@pytest.fixture
def issuer(keys: list[rsa.RSAPrivateKey]) -> Iterator[Issuer]:
    served = Issuer(jwks(k1=keys[0]))
    yield served
    served.close()


def refetched(verifier: Verifier, issuer: Issuer, document: bytes) -> None:
    """Serve ``document`` and make the verifier fetch it (an unknown kid asks for a fetch)."""
    remote = verifier.remote_keys
    assert remote is not None
    issuer.document = document
    before = remote.fetched
    unknown = signed(rsa.generate_private_key(65537, 2048), "unknown")

    def fetched() -> bool:
        with pytest.raises(Unauthorized):
            verifier.verify(unknown)
        return remote.fetched > before

    poll(fetched)


@pytest.mark.parametrize("change", ["removed", "replaced", "unchanged"])
def test_a_kept_token_goes_when_its_key_leaves_or_changes_in_the_jwks(
    issuer: Issuer, keys: list[rsa.RSAPrivateKey], change: str
) -> None:
    settings = AuthSettings("jwt", JWKS_ISSUER, JWKS_AUDIENCE, jwks=issuer.url)
    verifier = Verifier(settings, min_refetch=0.0)
    token, other = signed(keys[0], "k1"), signed(keys[1], "k2", "bo")
    documents = {
        "removed": jwks(k2=keys[1]),  # k1 rotated out
        "replaced": jwks(k1=keys[1], k2=keys[1]),  # k1 now names another key
        "unchanged": jwks(k1=keys[0], k2=keys[1]),  # k1 kept, k2 added
    }
    assert verdict(verifier, token) == "ana" and len(verifier.cache) == 1
    refetched(verifier, issuer, documents[change])
    assert verdict(verifier, other) == "bo"  # the new set is in use
    if change == "removed":
        assert verdict(verifier, token) == "the token's key (kid) is not in the JWKS"
    elif change == "replaced":
        assert verdict(verifier, token) == "the token's signature does not verify"
    else:
        kept = verifier.cache.get(token, time.time())
        assert kept is not None  # still kept: its key is the same object in the new set
        assert verdict(verifier, token) == "ana"
    assert len(verifier.cache) == (2 if change == "unchanged" else 1)
