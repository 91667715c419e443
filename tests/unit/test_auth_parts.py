"""The pure parts of authenticated votes: exposure warning, claim text, load-test identities."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from loadtests._traffic import VoteSource
from votectl.loadtest import loadtests_dir
from votectl.local.auth import exposure_warning, mint
from votectl.local.authorizer import _claim_text

sys.path.insert(0, str(loadtests_dir()))  # as Locust loads them: `_auth` imports `_traffic`
import _auth  # noqa: E402


@pytest.mark.parametrize(
    ("host", "auth", "warned"),
    [
        ("127.0.0.1", "none", False),
        ("::1", "none", False),
        ("localhost", "none", False),
        ("127.0.0.2", "none", False),
        ("0.0.0.0", "none", True),
        ("::", "none", True),
        ("192.168.1.5", "none", True),
        ("votes.example", "none", True),
        ("0.0.0.0", "jwt", False),
    ],
)
def test_exposure_warning_beyond_loopback_with_auth_none(
    host: str, auth: str, warned: bool
) -> None:
    warning = exposure_warning(host, auth)
    assert (warning is not None) == warned
    if warning:
        assert host in warning and "--auth jwt" in warning


def test_claims_become_text_as_api_gateway_sends_them() -> None:
    assert _claim_text(1583352238) == "1583352238"
    assert _claim_text(True) == "true"
    assert _claim_text(["admin", "viewer"]) == "[admin viewer]"
    assert _claim_text({"a": 1}) == '{"a":1}'
    assert _claim_text("alice") == "alice"


def test_minted_tokens_carry_the_claims_the_gateway_requires() -> None:
    token = mint(b"k" * 32, "ana", 60, "iss-x", "aud-y")
    claims = jwt.decode(token, b"k" * 32, algorithms=["HS256"], audience="aud-y", issuer="iss-x")
    assert claims["sub"] == "ana" and claims["exp"] - claims["iat"] == 60


def options(**given: Any) -> SimpleNamespace:
    defaults = {"token_file": "", "jwt_secret_file": "", "jwt_issuer": "i", "jwt_audience": "a"}
    return SimpleNamespace(**{**defaults, **given})


def test_an_identity_owns_the_votes_it_sends() -> None:
    source = VoteSource("lt-x-w0-p1")
    identity = _auth.Identity("ana", "t.o.k")
    single = source.vote()
    [mine], body = identity.own([single], single.json())
    assert mine.user_id == "ana" and json.loads(body)["user_id"] == "ana"
    batch = [source.vote() for _ in range(3)]
    votes, body = identity.own(batch, '{"votes":[]}')
    assert [v["user_id"] for v in json.loads(body)["votes"]] == ["ana"] * 3
    assert [v.title_id for v in votes] == [v.title_id for v in batch]
    assert identity.headers["authorization"] == "Bearer t.o.k"


def test_without_token_options_users_send_no_token() -> None:
    tokens = _auth.Tokens()
    assert tokens.configure(options()) is None
    assert not tokens.enabled and tokens.take("u") is None
    assert "not both" in (tokens.configure(options(token_file="a", jwt_secret_file="b")) or "")


def test_minted_identities_and_their_bad_token_cases() -> None:
    tokens = _auth.Tokens()
    tokens.secret, tokens.issuer, tokens.audience = b"s" * 32, "i", "a"
    identity = tokens.take("lt-u-1")
    assert identity is not None and _auth.subject(identity.token) == "lt-u-1"
    malformed = {"score-range": ("POST", "/votes", '{"user_id":"u","score":9}', 400),
                 "wrong-path": ("POST", "/ballots", '{"user_id":"u"}', 404)}  # fmt: skip
    cases = _auth.token_cases(malformed, identity, tokens)
    assert cases["score-range"][2] == '{"score":9}'  # the token is not what fails
    assert cases["wrong-path"][2] == '{"user_id":"u"}'
    assert {k: c[3] for k, c in cases.items() if k.startswith("token-")} == {
        "token-missing": 401, "token-garbage": 401, "token-bad-signature": 401,
        "token-alg-none": 401, "token-other-user": 403, "token-expired": 401,
        "token-not-yet-valid": 401, "token-wrong-issuer": 401, "token-wrong-audience": 401,
    }  # fmt: skip
    header = cases["token-alg-none"][4]["authorization"].split()[1].split(".")[0]
    assert jwt.get_unverified_header(header + ".e30.") == {"alg": "none", "typ": "JWT"}


@pytest.mark.parametrize(
    ("claims", "words"),
    [({"iss": "x"}, "no sub"), ({"sub": 'a"b'}, "escaping")],
)
def test_token_subjects_must_be_plain(claims: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        _auth.subject(jwt.encode(claims, b"s" * 32, "HS256"))
    with pytest.raises(ValueError, match="not a JWT"):
        _auth.subject("garbage")
