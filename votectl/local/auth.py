"""Local JWT keys and verification: what API Gateway's JWT authorizer checks, for `votectl up`.

Keys: a JWKS (file or URL; RS256/ES256, looked up by ``kid``) or an HS256 secret file; with
neither, the data dir's development secret (``jwt-secret``, mode 0600, created on first use),
which `votectl token` signs with too. Keys are parsed once and kept (a JWKS URL is fetched again
at most once a minute, for a ``kid`` it does not know); tokens are verified on every request,
never cached. votectl/local/authorizer.py puts ``Verifier`` in front of the receiver.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import secrets
import time
import typing
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import msgspec

from votectl.config import Stage
from votectl.errors import ConfigError, UsageError

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "AuthSettings",
    "Unauthorized",
    "Verifier",
    "auth_settings",
    "dev_secret",
    "exposure_warning",
    "mint",
]

DEV_ISSUER = "votectl-local"
DEV_AUDIENCE = "votectl"
SECRET_FILE = "jwt-secret"
ASYMMETRIC = ("RS256", "ES256")
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key of at least the hash's size
JWKS_REFETCH_SECONDS = 60.0

_decode_json = msgspec.json.decode


@dataclass(frozen=True)
class AuthSettings:
    """What the gateway processes need (picklable): the mode, the claims to expect, the keys."""

    mode: str = "none"
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    jwks: str | None = None
    secret_file: str | None = None
    cors_origins: tuple[str, ...] = ()


def auth_settings(stage: Stage) -> AuthSettings:
    """A stage's auth settings for the local target; the dev secret is created if it is used."""
    if stage.auth != "jwt":
        return AuthSettings(cors_origins=stage.cors_origins)
    if stage.jwt_jwks and stage.jwt_secret_file:
        raise UsageError(
            "give one key source: a JWKS (--jwt-jwks) or an HS256 secret (--jwt-secret-file)"
        )
    secret_file = stage.jwt_secret_file
    if not stage.jwt_jwks and not secret_file:
        secret_file = str(dev_secret(Path(stage.data_dir)))
    settings = AuthSettings(
        "jwt",
        stage.jwt_issuer or DEV_ISSUER,
        stage.jwt_audience or DEV_AUDIENCE,
        stage.jwt_jwks,
        secret_file,
        stage.cors_origins,
    )
    Verifier(settings)  # unreadable keys: a clear error now, not in each gateway process
    return settings


def dev_secret(data_dir: Path) -> Path:
    """The data dir's development HS256 secret, created (0600) on first use."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return path


def read_secret(path: str | Path) -> bytes:
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the JWT secret {path}: {exc.strerror}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the JWT secret {path} has {len(secret)} bytes; HS256 needs at least"
            f" {MIN_SECRET_BYTES}",
            hint="omit --jwt-secret-file to use the data dir's generated secret",
        )
    return secret


def mint(
    secret: bytes,
    subject: str,
    ttl_seconds: float,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
) -> str:
    """A development token: HS256, sub/iss/aud/iat/nbf/exp."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


# --- verification ---------------------------------------------------------------------------


class Unauthorized(Exception):
    """No token, or one that does not verify: HTTP 401."""


class _JwksKeys:
    """A JWKS's keys by ``kid``; from a URL they are fetched again for an unknown ``kid``,
    at most once a minute (so forged kids cannot make the gateway hammer the issuer)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.remote = source.startswith(("https://", "http://"))
        self.fetched_at = 0.0
        self.keys: dict[str | None, jwt.PyJWK] = {}
        self._load()

    def _load(self) -> None:
        self.fetched_at = time.monotonic()
        try:
            if self.remote:
                with urllib.request.urlopen(self.source, timeout=5) as response:
                    document = json.load(response)
            else:
                document = json.loads(Path(self.source).read_text())
            found = jwt.PyJWKSet.from_dict(document).keys
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise ConfigError(f"cannot load the JWKS {self.source}: {exc}") from None
        usable = {k.key_id: k for k in found if k.algorithm_name in ASYMMETRIC}
        if not usable:
            raise ConfigError(f"the JWKS {self.source} has no RS256 or ES256 key")
        self.keys = usable

    def key(self, kid: str | None) -> jwt.PyJWK:
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        stale = time.monotonic() - self.fetched_at > JWKS_REFETCH_SECONDS
        if kid not in self.keys and self.remote and stale:
            with contextlib.suppress(ConfigError):  # unreachable: keep the keys we had
                self._load()
        if kid not in self.keys:
            raise Unauthorized("the token's key (kid) is not in the JWKS")
        return self.keys[kid]


class Verifier:
    """Verifies bearer tokens against the settings' keys, issuer and audience.

    PyJWS does the JWS part (parsing, the algorithm allow-list: the key's own algorithm only,
    the signature); the claims are decoded with msgspec and checked here, as PyJWT's decode
    would (exp, nbf, iat, iss, aud, sub): 2.3x cheaper per token than PyJWT's decode, which
    parses with json and prepares the key on every call (benchmarks/auth.py).
    """

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jws = jwt.PyJWS()
        self._jwks = _JwksKeys(settings.jwks) if settings.jwks else None
        self._key: jwt.PyJWK | None = None
        if settings.secret_file:
            secret = base64.urlsafe_b64encode(read_secret(settings.secret_file)).decode()
            self._key = jwt.PyJWK({"kty": "oct", "k": secret.rstrip("="), "alg": "HS256"})
        elif self._jwks is None:
            raise ConfigError("auth jwt needs keys: a JWKS or an HS256 secret file")

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized saying why not."""
        try:
            if self._jwks is not None:
                key = self._jwks.key(jwt.get_unverified_header(token).get("kid"))
            else:
                key = typing.cast(jwt.PyJWK, self._key)
            payload = self._jws.decode_complete(token, key, [key.algorithm_name])["payload"]
        except jwt.InvalidAlgorithmError:
            raise Unauthorized("the token's algorithm is not accepted") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is malformed ({exc})") from None
        try:
            claims = _decode_json(payload)
        except msgspec.DecodeError:
            raise Unauthorized("the token's claims are not JSON") from None
        if not isinstance(claims, dict):
            raise Unauthorized("the token's claims are not a JSON object")
        self._check(claims)
        return claims

    def _check(self, claims: dict[str, Any]) -> None:
        for name in ("exp", "iss", "aud", "sub"):
            if name not in claims:
                raise Unauthorized(f"the token has no {name} claim")
        now = time.time()
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Unauthorized(f"the token's {name} claim is not a number")
        if claims["exp"] <= now:
            raise Unauthorized("the token has expired")
        if claims.get("nbf", 0) > now or claims.get("iat", 0) > now:
            raise Unauthorized("the token is not yet valid")
        if claims["iss"] != self.settings.issuer:
            raise Unauthorized(f"the token's issuer is not {self.settings.issuer}")
        audience = claims["aud"]
        if not (
            audience == self.settings.audience
            or (isinstance(audience, list) and self.settings.audience in audience)
        ):
            raise Unauthorized(f"the token's audience is not {self.settings.audience}")
        if not isinstance(claims["sub"], str) or not claims["sub"].strip():
            raise Unauthorized("the token's sub claim names no one")


def exposure_warning(host: str, auth: str) -> str | None:
    """A warning when an endpoint without authentication listens beyond this machine."""
    if auth != "none":
        return None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"--host {host} lets other machines reach the endpoint with auth none: no TLS, and"
        " anyone who can reach it votes as any user_id (use --auth jwt; the default host is"
        " 127.0.0.1)"
    )
