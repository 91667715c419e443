"""A JWKS URL is fetched off the request path: an issuer that never answers, or trickles bytes,
holds no request, and a gateway starts (answering 401, saying why) while it is down.

The issuer is a real HTTP server on 127.0.0.1 whose behaviour the test switches."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.functional.conftest import Up, poll, start_up
from votectl.local.auth import AuthSettings, Unauthorized, Verifier
from votectl.local.jwks import fetch_jwks
from votectl.local.layout import Layout

ISSUER, AUDIENCE = "https://issuer.example", "votes-api"
VOTE = {"title_id": "t1", "aspect": "story", "score": 4}


class Issuer:
    """A JWKS server: ``mode`` is "serve", "silent" (holds each request until released),
    "trickle" (the document one byte every ``trickle_seconds``) or "error" (503)."""

    def __init__(self, document: bytes) -> None:
        self.document = document
        self.mode = "serve"
        self.trickle_seconds = 0.3
        self.release = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests = 0
        self._lock = threading.Lock()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    issuer.requests += 1
                    issuer.in_flight += 1
                    issuer.most_in_flight = max(issuer.most_in_flight, issuer.in_flight)
                try:
                    issuer.answer(self)
                except OSError:
                    pass  # the client gave up
                finally:
                    with issuer._lock:
                        issuer.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "silent":
            self.release.wait(120)
            mode = "error"
        if mode == "error":
            handler.send_response(503)
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(self.document)))
        handler.end_headers()
        if mode == "serve":
            handler.wfile.write(self.document)
            return
        for i in range(len(self.document)):  # trickle: each read gets a byte, never a timeout
            handler.wfile.write(self.document[i : i + 1])
            handler.wfile.flush()
            time.sleep(self.trickle_seconds)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def issuer(key: rsa.RSAPrivateKey) -> Iterator[Issuer]:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    served = Issuer(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256"}]}).encode())
    yield served
    served.close()


def token(key: rsa.RSAPrivateKey, kid: str, sub: str = "ana") -> str:
    now = int(time.time())
    claims = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    return jwt.encode(claims, key, "RS256", headers={"kid": kid})


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_unknown_kids_never_hold_a_request_while_the_issuer_hangs(
    issuer: Issuer, key: rsa.RSAPrivateKey, mode: str
) -> None:
    settings = AuthSettings("jwt", ISSUER, AUDIENCE, jwks=issuer.url)
    verifier = Verifier(settings, min_refetch=0.0)  # no rate limit: refetch on every bogus kid
    remote = verifier.remote_keys
    assert remote is not None and remote.keys  # the first fetch ran before serving
    issuer.mode = mode
    bogus = token(key, "forged-kid")
    with pytest.raises(Unauthorized, match="not in the JWKS"):
        verifier.verify(bogus)  # 401 at once; a refetch is scheduled ...
    poll(lambda: issuer.in_flight == 1)  # ... and is now held by the issuer
    for _ in range(20):  # more bogus kids while it hangs: still 401, no second fetch
        with pytest.raises(Unauthorized, match="not in the JWKS"):
            verifier.verify(bogus)
        assert verifier.verify(token(key, "k1"))["sub"] == "ana"  # known key: answered ...
    assert issuer.in_flight == 1  # ... while the fetch is still in flight
    assert issuer.most_in_flight == 1  # at most one fetch at a time
    assert remote.fetch_threads == {"jwks-refresh"}  # never on a request's thread
    issuer.mode = "error"  # the issuer answers 503 now: the last good set is kept
    issuer.release.set()

    def refused() -> bool:
        with contextlib.suppress(Unauthorized):
            verifier.verify(bogus)  # asks for a refetch, as a client would
        return remote.error is not None and "503" in remote.error

    poll(refused, timeout=60)
    assert verifier.verify(token(key, "k1"))["sub"] == "ana"


def test_a_fetch_is_bounded_in_total_time_not_only_per_read(issuer: Issuer) -> None:
    issuer.mode = "trickle"  # the whole document would take about 50 reads of 0.3 s each
    with pytest.raises(TimeoutError, match="within 1 s"):
        fetch_jwks(issuer.url, budget=1.0)


def test_unknown_kid_refetches_are_rate_limited(issuer: Issuer, key: rsa.RSAPrivateKey) -> None:
    verifier = Verifier(AuthSettings("jwt", ISSUER, AUDIENCE, jwks=issuer.url))  # 60 s limit
    remote = verifier.remote_keys
    assert remote is not None
    poll(lambda: issuer.requests == 1 and issuer.in_flight == 0)
    for _ in range(50):
        with pytest.raises(Unauthorized):
            verifier.verify(token(key, "forged-kid"))
    assert remote.fetches == 1 and issuer.requests == 1


def gateway_log(up: Up) -> str:
    path = Layout.of(up.data_dir).logs_dir / "gateway-0.log"
    return path.read_text() if path.exists() else ""


def post(up: Up, bearer: str) -> httpx.Response:
    with up.client() as client:
        return client.post("/votes", json=VOTE, headers={"authorization": f"Bearer {bearer}"})


def test_a_gateway_starts_and_restarts_with_the_issuer_down_and_its_log_says_why(
    issuer: Issuer, key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    issuer.mode = "silent"
    up = start_up(
        tmp_path / "local", "--auth", "jwt", "--jwt-jwks", issuer.url,
        "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
    )  # fmt: skip
    try:
        response = post(up, token(key, "k1"))
        assert response.status_code == 401
        assert "no signing keys yet" in response.json()["error"]
        poll(lambda: "cannot fetch the JWKS" in gateway_log(up))
        assert "401 until its keys arrive" in gateway_log(up)
        first = json.loads((up.data_dir / "up.json").read_text())["processes"]["gateway-0"]
        os.kill(first, signal.SIGKILL)

        def restarted() -> bool:
            info = json.loads((up.data_dir / "up.json").read_text())
            return info["processes"]["gateway-0"] != first

        poll(restarted, timeout=60)
        poll(lambda: gateway_log(up).count("cannot fetch the JWKS") >= 2, timeout=60)
        response = poll(lambda: (r := post(up, token(key, "k1"))).status_code and r, timeout=60)
        assert response.status_code == 401 and "no signing keys yet" in response.json()["error"]
        issuer.mode = "serve"  # the issuer is back: keys arrive in the background
        issuer.release.set()
        poll(lambda: post(up, token(key, "k1")).status_code == 202, timeout=90)
    finally:
        up.kill_group(signal.SIGINT)
        _, err = up.proc.communicate(timeout=30)
    assert "cannot fetch the JWKS" in err  # `up` warned at start, too
    assert "Traceback" not in err
