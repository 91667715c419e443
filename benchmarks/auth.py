"""Cost of token verification per request, against the receiver's own cost. Not a test.

    python benchmarks/auth.py [--repeat 7] [--number 20000]

Rows (microseconds per call, median of ``--repeat`` rounds of ``--number`` calls each; the rows
take turns round by round, and ratios are the medians of each round's ratio):

- receiver:     the receiver handling one single-vote request (no auth), into a queue that
                drops what it is sent: the baseline the ratios are taken against;
- guard hs256:  what `votectl up --auth jwt` adds per request with the dev secret for a token
                it has seen before (votectl/local/token_cache.py): read the bearer token, find
                it verified, put the claims in the event;
- verify hs256 / rs256 / es256: ``Verifier.verify`` of a token seen for the first time (no
                cache: PyJWS checks the signature, msgspec decodes the claims, votectl checks
                exp/nbf/iat/iss/aud/sub), per key type;
- identity:     the receiver's extra work with claims (a vote without user_id filled in);
- pyjwt hs256:  PyJWT's own ``jwt.decode`` with the same checks, and
- joserfc hs256: joserfc's decode + claims registry: the alternatives, for the choice.

    python benchmarks/auth.py --mode issuer [--seconds 30] [--issuer trickle|silent]

Issuer mode (issue 15): two real `votectl up --auth jwt` side by side, one with its keys in a
JWKS file (the baseline: no JWKS URL), one with a JWKS URL whose server, once the keys were
fetched, trickles a byte every 4 s (or never answers). A client with a known key sends one
vote at a time to each in turn while another sends a token with an unknown ``kid`` to the
URL-keyed one every second; latencies are measured for ``--seconds`` from 62 s after start
(unknown kids refetch the JWKS at most once a minute, so one refetch has been asked for by then).
Printed: each side's median latency per round and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from jwt.algorithms import ECAlgorithm, RSAAlgorithm  # noqa: E402

from lambdas import receiver  # noqa: E402
from votectl.local.auth import AuthSettings, Verifier, mint  # noqa: E402
from votectl.local.authorizer import guard  # noqa: E402
from votectl.local.gateway import http_api_event  # noqa: E402
from votectl.local.token_cache import TokenCache  # noqa: E402

ISSUER, AUDIENCE = "votectl-local", "votectl"
VOTE = b'{"user_id":"alice","title_id":"tt1","aspect":"story","score":4}'
UNCACHED = TokenCache(entries=0)  # every call verifies in full
ANON = b'{"title_id":"tt1","aspect":"story","score":4}'


class _Drop:
    max_message_bytes = 256 * 1024

    def send(self, bodies: Any) -> None:
        pass


def _event(body: bytes, token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return http_api_event("POST", "/votes", "", headers, body, "r1", "127.0.0.1")


def _asymmetric(folder: Path) -> dict[str, tuple[Verifier, str]]:
    keys: dict[str, tuple[Any, Any]] = {
        "rs256": (rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
        "es256": (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    }
    out = {}
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": 0, "exp": 2**40}
    for name, (private, algorithm) in keys.items():
        jwk = {**json.loads(algorithm.to_jwk(private.public_key())), "kid": name}
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"keys": [{**jwk, "alg": name.upper()}]}))
        token = jwt.encode(claims, private, name.upper(), headers={"kid": name})
        out[name] = (Verifier(AuthSettings("jwt", jwks=str(path)), cache=UNCACHED), token)
    return out


def _joserfc(secret: bytes, token: str) -> Callable[[], object] | None:
    try:
        from joserfc import jwt as jjwt
        from joserfc.jwk import OctKey
        from joserfc.jwt import JWTClaimsRegistry
    except ImportError:
        return None
    key = OctKey.import_key(secret)
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
    )

    def verify() -> object:
        decoded = jjwt.decode(token, key, algorithms=["HS256"])
        registry.validate(decoded.claims)
        return decoded

    return verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--mode", choices=["verify", "issuer"], default="verify")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--issuer", choices=["trickle", "silent"], default="trickle")
    args = parser.parse_args()
    if args.mode == "issuer":
        from benchmarks._issuer import run_issuer_mode

        run_issuer_mode(args.seconds, args.issuer)
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        secret_file = folder / "secret"
        secret_file.write_text("s" * 48)
        secret = secret_file.read_bytes()
        settings = AuthSettings("jwt", secret_file=str(secret_file))
        token = mint(secret, "alice", 3600)
        verifier = Verifier(settings, cache=UNCACHED)
        handle = receiver.make_handler(_Drop())  # type: ignore[arg-type]
        guarded = guard(lambda event, context: {"statusCode": 202}, settings)
        event = _event(VOTE, token)
        claims = {"jwt": {"claims": {"sub": "alice"}, "scopes": None}}

        def with_claims() -> object:
            e = _event(ANON)
            e["requestContext"]["authorizer"] = claims
            return handle(e, None)

        rows: dict[str, Callable[[], object]] = {
            "receiver": lambda: handle(_event(VOTE), None),
            "guard hs256": lambda: guarded(event, None),
            "verify hs256": lambda: verifier.verify(token),
            "identity": with_claims,
        }
        for name, (asym, asym_token) in _asymmetric(folder).items():
            rows[f"verify {name}"] = functools.partial(asym.verify, asym_token)
        rows["pyjwt hs256"] = functools.partial(
            jwt.decode, token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )  # fmt: skip
        other = _joserfc(secret, token)
        if other is not None:
            rows["joserfc hs256"] = other
        # Rows take turns, round by round, so a shared machine's drift falls on all alike; the
        # receiver rows build an event per call, whose own cost (measured each round) is taken off.
        rows["event"] = lambda: _event(VOTE)
        rounds: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.repeat):
            for name, call in rows.items():
                rounds[name].append(timeit.timeit(call, number=args.number) / args.number * 1e6)
            for name in ("receiver", "identity"):
                rounds[name][-1] -= rounds["event"][-1]
        del rounds["event"]
        print(f"{'row':<14} {'us/call (median)':>17} {'x receiver':>11}   rounds (us)")
        for name, runs in rounds.items():
            ratio = statistics.median(r / b for r, b in zip(runs, rounds["receiver"], strict=True))
            each = ", ".join(f"{r:.1f}" for r in runs)
            print(f"{name:<14} {statistics.median(runs):>17.1f} {ratio:>10.2f}x   {each}")
        ours, theirs = rounds["verify hs256"], rounds["pyjwt hs256"]
        pairs = [a / b for a, b in zip(ours, theirs, strict=True)]
        each = ", ".join(f"{r:.2f}" for r in pairs)
        print(
            f"verify hs256 / pyjwt hs256: {statistics.median(pairs):.2f}x (round by round {each})"
        )


if __name__ == "__main__":
    main()
