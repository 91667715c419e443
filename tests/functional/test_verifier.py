"""``Verifier`` (PyJWS + its own claim checks) agrees with PyJWT's full decode, token by token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from votectl.errors import ConfigError
from votectl.local.auth import AuthSettings, Unauthorized, Verifier

SECRET = b"k" * 40
NOW = int(time.time())
GOOD = {"sub": "ana", "iss": "votectl-local", "aud": "votectl", "iat": NOW, "exp": NOW + 60}


def variant(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**GOOD, **changes}.items() if v is not None}


CASES = {
    "good": variant(),
    "aud in a list": variant(aud=["other", "votectl"]),
    "aud list without ours": variant(aud=["other"]),
    "aud a number": variant(aud=7),
    "float exp": variant(exp=NOW + 60.5),
    "expired": variant(exp=NOW - 1),
    "expired beyond the leeway": variant(exp=NOW - 120),
    "exp a string": variant(exp=str(NOW + 60)),
    "exp true": variant(exp=True),
    "no exp": variant(exp=None),
    "nbf ahead": variant(nbf=NOW + 600),
    "nbf ahead within the leeway": variant(nbf=NOW + 30),
    "nbf passed": variant(nbf=NOW - 5),
    "nbf null": {**GOOD, "nbf": None},
    "iat ahead": variant(iat=NOW + 600),
    "iat ahead within the leeway": variant(iat=NOW + 30),
    "iat a string": variant(iat="yesterday"),
    "wrong issuer": variant(iss="votectl-local "),
    "no iss": variant(iss=None),
    "no aud": variant(aud=None),
    "no sub": variant(sub=None),
    "extra claims": variant(scope="votes/write", groups=["a", "b"]),
}


# where we are stricter on purpose: RFC 7519 dates are JSON numbers; PyJWT 2.10 takes int("...")
# and raises TypeError (not a PyJWTError: a 500 in a gateway) on a null nbf
STRICTER = {"exp a string", "nbf null"}


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Verifier:
    path = tmp_path_factory.mktemp("keys") / "secret"
    path.write_bytes(SECRET)
    return Verifier(AuthSettings("jwt", secret_file=str(path)))


def pyjwt_accepts(token: str, leeway: float = 60) -> bool:
    """PyJWT's verdict with the verifier's default leeway (60 s; PyJWT's own default is 0)."""
    try:
        jwt.decode(
            token, SECRET, algorithms=["HS256"], audience="votectl", issuer="votectl-local",
            options={"require": ["exp", "iss", "aud", "sub"]}, leeway=leeway,
        )  # fmt: skip
    except (jwt.PyJWTError, TypeError):
        return False
    return True


@pytest.mark.parametrize("kind", CASES)
def test_the_verifier_accepts_exactly_what_pyjwt_decode_accepts(
    verifier: Verifier, kind: str
) -> None:
    token = jwt.encode(CASES[kind], SECRET, "HS256")
    try:
        claims = verifier.verify(token)
    except Unauthorized:
        ours = False
    else:
        ours = True
        assert claims["sub"] == "ana"
    if kind in STRICTER:
        assert not ours
    else:
        assert ours == pyjwt_accepts(token), kind


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        jwt.encode(GOOD, SECRET, "HS384"),
        jwt.encode(GOOD, b"z" * 40, "HS256"),
        jwt.encode(GOOD, SECRET, "HS256", headers={"b64": False}),
        jwt.api_jws.encode(b"[1, 2]", SECRET, "HS256"),
        jwt.api_jws.encode(b"not json", SECRET, "HS256"),
    ],
)
def test_what_is_not_a_good_token_is_unauthorized(verifier: Verifier, token: str) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_a_verifier_without_keys_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs keys"):
        Verifier(AuthSettings("jwt"))


def test_an_unreadable_jwks_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    with pytest.raises(ConfigError, match="no RS256 or ES256"):
        Verifier(AuthSettings("jwt", jwks=str(tmp_path / "jwks.json")))


@pytest.mark.parametrize("leeway", [0, 60])
def test_a_token_30_s_ahead_passes_the_default_leeway_and_fails_leeway_0(
    tmp_path: Path, leeway: int
) -> None:
    """An issuer whose clock is 30 s fast: iat and nbf 30 s in our future."""
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    verifier = Verifier(AuthSettings("jwt", secret_file=str(path), leeway=leeway))
    now = int(time.time())
    token = jwt.encode(variant(iat=now + 30, nbf=now + 30, exp=now + 630), SECRET, "HS256")
    if leeway:
        assert verifier.verify(token)["sub"] == "ana"
        assert pyjwt_accepts(token, leeway)
    else:
        with pytest.raises(Unauthorized, match="not yet valid"):
            verifier.verify(token)
        assert not pyjwt_accepts(token, leeway)


def test_the_stage_and_flag_leeway_reach_the_verifier(tmp_path: Path) -> None:
    from votectl.config import LOCAL, load_stage
    from votectl.local.auth import auth_settings

    default = load_stage(LOCAL, tmp_path / "none.toml", auth="jwt", data_dir=str(tmp_path))
    assert auth_settings(default).leeway == 60
    strict = load_stage(
        LOCAL, tmp_path / "none.toml", auth="jwt", data_dir=str(tmp_path), jwt_leeway=0
    )
    settings = auth_settings(strict)
    assert settings.leeway == 0
    now = int(time.time())
    secret = Path(settings.secret_file or "").read_bytes().strip()
    claims = {**GOOD, "iat": now + 30, "nbf": now + 30, "exp": now + 3600}
    ahead = jwt.encode(claims, secret, "HS256")
    with pytest.raises(Unauthorized, match="not yet valid"):
        Verifier(settings).verify(ahead)
