"""benchmarks/auth.py --mode issuer: a known-key client's latency while the JWKS issuer hangs
and unknown-kid tokens arrive every second, against a gateway keyed by a JWKS file."""

from __future__ import annotations

import contextlib
import json
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from votectl.local.child import running_pipeline

ISSUER, AUDIENCE = "https://issuer.example", "votes-api"
TRICKLE_SECONDS = 4.0
ROUND_REQUESTS = 50
CLIENT_TIMEOUT = 20.0
REFETCH_WINDOW = 62.0  # votectl refetches a JWKS for unknown kids at most once a minute


def _issuer(document: bytes, state: dict[str, str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if state["mode"] == "silent":
                time.sleep(3600)
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(document)))
            self.end_headers()
            if state["mode"] == "serve":
                self.wfile.write(document)
                return
            for i in range(len(document)):  # a byte every 4 s: no read ever times out
                try:
                    self.wfile.write(document[i : i + 1])
                    self.wfile.flush()
                except OSError:  # the gateway gave up on us
                    return
                time.sleep(TRICKLE_SECONDS)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _token(key: Any, kid: str, sub: str) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, key, "RS256", headers={"kid": kid})


def _send(client: httpx.Client, token: str, n: int) -> float:
    """Seconds until the answer (or until the client gave up: CLIENT_TIMEOUT)."""
    started = time.perf_counter()
    with contextlib.suppress(httpx.TimeoutException):
        client.post(
            "/votes",
            json={"title_id": f"t{n % 7}", "aspect": "story", "score": 1 + n % 5},
            headers={"authorization": f"Bearer {token}"},
        )
    return time.perf_counter() - started


def run_issuer_mode(seconds: float, hang: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "alg": "RS256"}
    document = json.dumps({"keys": [jwk]}).encode()
    state = {"mode": "serve"}
    server = _issuer(document, state)
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    auth = ("--auth", "jwt", "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        (Path(tmp) / "jwks.json").write_bytes(document)
        file_url = stack.enter_context(
            running_pipeline(Path(tmp) / "file", *auth, "--jwt-jwks", str(Path(tmp) / "jwks.json"))
        )
        url_url = stack.enter_context(running_pipeline(Path(tmp) / "url", *auth, "--jwt-jwks", url))
        started = time.monotonic()  # the URL gateway fetched its keys by now
        state["mode"] = hang  # the keys were fetched at start; from now on the issuer hangs
        good, bogus = _token(key, "k1", "ana"), _token(key, "no-such-kid", "eve")
        stop = threading.Event()
        bogus_codes: list[int] = []

        def attacker() -> None:
            with httpx.Client(base_url=url_url, timeout=CLIENT_TIMEOUT) as client:
                while not stop.wait(1.0):
                    try:
                        response = client.post(
                            "/votes",
                            json={"title_id": "t", "aspect": "story", "score": 1},
                            headers={"authorization": f"Bearer {bogus}"},
                        )
                    except httpx.TimeoutException:
                        bogus_codes.append(0)  # no answer within CLIENT_TIMEOUT
                    else:
                        bogus_codes.append(response.status_code)

        thread = threading.Thread(target=attacker, daemon=True)
        thread.start()
        base_rounds: list[float] = []
        url_rounds: list[float] = []
        worst = worst_base = 0.0
        with (
            httpx.Client(base_url=file_url, timeout=CLIENT_TIMEOUT) as base,
            httpx.Client(base_url=url_url, timeout=CLIENT_TIMEOUT) as keyed,
        ):
            # unknown kids refetch at most once a minute: measure once one has been asked for
            time.sleep(max(0.0, started + REFETCH_WINDOW - time.monotonic()))
            deadline = time.monotonic() + seconds
            n = 0
            a: list[float] = []
            b: list[float] = []
            while time.monotonic() < deadline:
                a.append(_send(base, good, n))  # requests take turns: drift hits both
                b.append(_send(keyed, good, n))
                n += 1
                worst, worst_base = max(worst, b[-1]), max(worst_base, a[-1])
                if len(a) == ROUND_REQUESTS or time.monotonic() >= deadline:
                    base_rounds.append(statistics.median(a))
                    url_rounds.append(statistics.median(b))
                    a, b = [], []
        stop.set()
        thread.join(5)
    server.shutdown()
    ratios = [u / f for u, f in zip(url_rounds, base_rounds, strict=True)]
    how = f"a byte every {TRICKLE_SECONDS:g} s" if hang == "trickle" else "never answers"
    print(
        f"issuer {hang} ({how}); measured {seconds:g} s from {REFETCH_WINDOW:g} s after start;"
        f" {len(bogus_codes)} unknown-kid requests, answered {sorted(set(bogus_codes))}"
        f" (0: no answer within {CLIENT_TIMEOUT:g} s)"
    )
    print(f"rounds of {ROUND_REQUESTS} requests to each: {len(ratios)}")
    print(
        f"median latency, JWKS file (baseline): {statistics.median(base_rounds) * 1e3:.2f} ms"
        f" (slowest single request {worst_base * 1e3:.1f} ms)"
    )
    print(
        f"median latency, hanging JWKS URL:     {statistics.median(url_rounds) * 1e3:.2f} ms"
        f" (slowest single request {worst * 1e3:.1f} ms)"
    )
    print(
        f"ratio URL / file, median of rounds: {statistics.median(ratios):.2f}x"
        f" (min {min(ratios):.2f}, max {max(ratios):.2f})"
    )
