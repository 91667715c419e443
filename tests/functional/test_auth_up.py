"""Authenticated votes on the local endpoint: a real `votectl up --auth jwt` and real tokens."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.functional.conftest import Up, start_up, votectl
from votectl.local.layout import Layout
from votectl.local.table import SqliteVoteTable

VOTE = {"title_id": "t1", "aspect": "story", "score": 4}
ISSUER, AUDIENCE = "https://issuer.example", "votes-api"


def claims(sub: str = "alice", **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": sub, "iss": "votectl-local", "aud": "votectl", "iat": now, "exp": now + 600}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def stored(up: Up, user: str, title: str = "t1") -> tuple[int, int] | None:
    table = SqliteVoteTable(Layout.of(up.data_dir).table_db)
    try:
        return table.get(user, title, "story")
    finally:
        table.close()


def stop(up: Up) -> str:
    """Stop a `votectl up` (SIGINT, as Ctrl-C) and return its stderr."""
    up.kill_group(signal.SIGINT)
    _, err = up.proc.communicate(timeout=30)
    return err


@pytest.fixture(scope="module")
def dev_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = start_up(
        tmp_path_factory.mktemp("auth") / "local", "--auth", "jwt", "--cors-origin",
        "https://app.example",
    )  # fmt: skip
    yield up
    assert "Traceback" not in stop(up)


@pytest.fixture(scope="module")
def secret(dev_up: Up) -> bytes:
    path = dev_up.data_dir / "jwt-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    return path.read_bytes().strip()


def post(up: Up, body: Any, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    with up.client() as client:
        return client.post("/votes", json=body, headers=headers)


def test_votectl_token_and_up_work_together_with_no_setup(dev_up: Up) -> None:
    minted = votectl("token", "--user", "alice", "--data-dir", str(dev_up.data_dir))
    assert minted.returncode == 0, minted.stderr
    [token] = minted.stdout.split()
    response = post(dev_up, VOTE, token)
    assert response.status_code == 202, response.text
    dev_up.drained()
    assert stored(dev_up, "alice") is not None  # user_id came from the token

    many = votectl("token", "--user", "u", "--count", "3", "--data-dir", str(dev_up.data_dir))
    subs = [jwt.decode(t, options={"verify_signature": False})["sub"] for t in many.stdout.split()]
    assert subs == ["u-0", "u-1", "u-2"]


def test_a_vote_naming_another_user_is_403_and_nothing_is_stored(dev_up: Up, secret: bytes) -> None:
    token = jwt.encode(claims("carol"), secret, "HS256")
    batch = {"votes": [{**VOTE, "title_id": "t403"}, {**VOTE, "user_id": "dave"}]}
    response = post(dev_up, batch, token)
    assert response.status_code == 403
    assert response.json()["details"] == [
        {"message": "is not the token's subject", "index": 1, "field": "user_id"}
    ]
    assert post(dev_up, {**VOTE, "user_id": "carol", "title_id": "t2"}, token).status_code == 202
    dev_up.drained()
    assert stored(dev_up, "carol", "t403") is None and stored(dev_up, "carol", "t2") is not None


def _bad_tokens(secret: bytes) -> dict[str, tuple[str | None, str]]:
    """kind -> (token or None for no header, words the 401 must say)"""
    now = int(time.time())
    good = jwt.encode(claims("mallory"), secret, "HS256")
    head, payload, _ = good.split(".")
    return {
        "missing": (None, "bearer token is required"),
        "garbage": ("not-a-jwt", "malformed"),
        "bad signature": (jwt.encode(claims("mallory"), b"x" * 32, "HS256"), "signature"),
        "tampered": (f"{head}.{b64(claims('alice'))}.{good.split('.')[2]}", "signature"),
        "wrong issuer": (jwt.encode(claims("mallory", iss="evil"), secret, "HS256"), "issuer"),
        "wrong audience": (jwt.encode(claims("mallory", aud="x"), secret, "HS256"), "audience"),
        # beyond the default 60 s leeway for clock skew
        "expired": (jwt.encode(claims("mallory", exp=now - 120), secret, "HS256"), "expired"),
        "not yet valid": (
            jwt.encode(claims("mallory", nbf=now + 600), secret, "HS256"),
            "not yet valid",
        ),
        "no exp": (jwt.encode(claims("mallory", exp=None), secret, "HS256"), "exp"),
        "no sub": (jwt.encode(claims(sub=None), secret, "HS256"), "sub"),  # type: ignore[arg-type]
        "alg none": (f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.", "algorithm"),
        "HS512": (jwt.encode(claims("mallory"), secret, "HS512"), "algorithm"),
    }


def test_every_bad_token_is_401_with_www_authenticate_and_nothing_is_stored(
    dev_up: Up, secret: bytes
) -> None:
    for kind, (token, words) in _bad_tokens(secret).items():
        response = post(dev_up, {**VOTE, "title_id": "t401"}, token)
        assert response.status_code == 401, kind
        assert response.headers["www-authenticate"].startswith("Bearer"), kind
        assert words in response.json()["error"], (kind, response.text)
    # the same without the Bearer prefix (API Gateway accepts a bare token too)
    with dev_up.client() as client:
        bare = client.post("/votes", json=VOTE, headers={"authorization": "not-a-jwt"})
    assert bare.status_code == 401
    dev_up.drained()
    assert stored(dev_up, "mallory", "t401") is None and stored(dev_up, "alice", "t401") is None


def test_subjects_are_used_byte_for_byte_so_two_spellings_are_two_rows(
    dev_up: Up, secret: bytes
) -> None:
    for sub, score in ((" bob ", 2), ("bob", 5), ("jos\u00e9", 3), ("jose\u0301", 4)):
        token = jwt.encode(claims(sub), secret, "HS256")
        assert post(dev_up, {**VOTE, "title_id": "t-sub", "score": score}, token).status_code == 202
    dev_up.drained()
    rows = {
        sub: stored(dev_up, sub, "t-sub") for sub in (" bob ", "bob", "jos\u00e9", "jose\u0301")
    }
    assert {sub: row[0] if row else None for sub, row in rows.items()} == {
        " bob ": 2, "bob": 5, "jos\u00e9": 3, "jose\u0301": 4,
    }  # fmt: skip
    control = jwt.encode(claims("bo\x7fb"), secret, "HS256")
    refused = post(dev_up, {**VOTE, "title_id": "t-sub"}, control)
    assert refused.status_code == 403 and "control" in refused.json()["error"]


def test_a_token_from_an_issuer_30_s_fast_passes_the_default_leeway(
    dev_up: Up, secret: bytes
) -> None:
    now = int(time.time())
    ahead = jwt.encode(claims("skewed", iat=now + 30, nbf=now + 30), secret, "HS256")
    assert post(dev_up, {**VOTE, "title_id": "t-skew"}, ahead).status_code == 202


def test_health_stays_open_and_other_routes_need_a_token(dev_up: Up) -> None:
    with dev_up.client() as client:
        assert client.get("/health").status_code == 200
        assert client.post("/ballots", json=VOTE).status_code == 401  # as API Gateway's $default


def test_cors_preflight_and_headers_for_allowed_origins_only(dev_up: Up, secret: bytes) -> None:
    preflight = {"access-control-request-method": "POST"}
    with dev_up.client() as client:
        allowed = client.options("/votes", headers={"origin": "https://app.example", **preflight})
        other = client.options("/votes", headers={"origin": "https://evil.example", **preflight})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"]
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert other.status_code == 204 and "access-control-allow-origin" not in other.headers
    token = jwt.encode(claims("erin"), secret, "HS256")
    vote = post(dev_up, VOTE, token, origin="https://app.example")
    assert vote.status_code == 202
    assert vote.headers["access-control-allow-origin"] == "https://app.example"
    refused = post(dev_up, VOTE, None, origin="https://app.example")
    assert refused.status_code == 401  # a browser can read why
    assert refused.headers["access-control-allow-origin"] == "https://app.example"


# --- asymmetric keys: a JWKS file and a JWKS URL ------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
    }


def jwks(keys: dict[str, Any]) -> dict[str, Any]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(keys["rsa"].public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(keys["ec"].public_key()))
    return {
        "keys": [
            {**rsa_jwk, "kid": "r1", "alg": "RS256", "use": "sig"},
            {**ec_jwk, "kid": "e1", "alg": "ES256", "use": "sig"},
        ]
    }


@pytest.fixture(scope="module")
def jwks_url(keys: dict[str, Any]) -> Iterator[str]:
    document = json.dumps(jwks(keys)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.mark.parametrize("source", ["file", "url"])
def test_rs256_and_es256_tokens_verify_against_a_jwks(
    tmp_path: Path, keys: dict[str, Any], jwks_url: str, source: str
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(keys)))
    where = str(path) if source == "file" else jwks_url
    up = start_up(
        tmp_path / "local", "--auth", "jwt", "--jwt-jwks", where,
        "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
    )  # fmt: skip
    try:
        mine = claims("frank", iss=ISSUER, aud=AUDIENCE)
        rs = jwt.encode(mine, keys["rsa"], "RS256", headers={"kid": "r1"})
        es = jwt.encode(mine, keys["ec"], "ES256", headers={"kid": "e1"})
        assert post(up, VOTE, rs).status_code == 202
        assert post(up, {**VOTE, "title_id": "t2"}, es).status_code == 202
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(mine, other, "RS256", headers={"kid": "r1"})
        unknown = jwt.encode(mine, keys["rsa"], "RS256", headers={"kid": "nope"})
        for token, words in ((forged, "signature"), (unknown, "kid")):
            response = post(up, {**VOTE, "title_id": "t3"}, token)
            assert response.status_code == 401 and words in response.json()["error"]
        up.drained()
        assert stored(up, "frank") and stored(up, "frank", "t2")
        assert stored(up, "frank", "t3") is None
    finally:
        assert "Traceback" not in stop(up)


# --- bad settings and the exposure warning ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--jwt-issuer", "x"), "need auth jwt"),
        (("--jwt-leeway", "0"), "need auth jwt"),
        (("--auth", "basic"), "auth must be none or jwt"),
        (("--auth", "jwt", "--jwt-jwks", "j.json", "--jwt-secret-file", "s"), "one key source"),
        (("--auth", "jwt", "--jwt-jwks", "missing.json"), "cannot load the JWKS"),
        (("--auth", "jwt", "--jwt-secret-file", "short"), "at least 32"),
        (("--auth", "jwt", "--jwt-secret-file", "missing"), "cannot read the JWT secret"),
    ],
)
def test_bad_auth_settings_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    (tmp_path / "short").write_text("too short")
    files = {"j.json", "s", "missing.json", "short", "missing"}
    args = tuple(str(tmp_path / a) if a in files else a for a in args)
    done = votectl("up", "--port", "0", "--data-dir", str(tmp_path / "d"), *args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and done.stderr.count("error:") == 1
    assert "Traceback" not in done.stderr


def test_up_warns_when_it_listens_beyond_loopback_with_auth_none(
    up_factory: Callable[..., Up],
) -> None:
    exposed = up_factory("--host", "0.0.0.0")
    assert (
        "warning: --host 0.0.0.0 lets other machines reach the endpoint with auth none"
        in " ".join(stop(exposed).split())
    )
    quiet = up_factory("--host", "127.0.0.1", data_dir=exposed.data_dir.parent / "second")
    assert "auth none" not in stop(quiet)


# --- votectl token's failure paths --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "toml", "words"),
    [
        (("--user", "ana", "--ttl", "soon"), "", "--ttl"),
        (("--user", "ana", "--ttl", "0s"), "", "--ttl"),
        (("--user", ""), "", "--user"),
        (("--user", "ana", "--stage", "idp"), 'jwt_jwks = "jwks.json"', "JWKS"),
        (("--user", "ana", "--stage", "idp"), 'jwt_secret_file = "short"', "at least 32"),
    ],
)
def test_votectl_token_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], toml: str, words: str
) -> None:
    (tmp_path / "short").write_text("short")
    (tmp_path / "votectl.toml").write_text(f'[stages.idp]\nauth = "jwt"\n{toml}\n')
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "votectl", "token", "--data-dir", str(tmp_path / "d"), *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and done.stderr.count("error:") == 1 and not done.stdout
