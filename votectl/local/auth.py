"""Local JWT keys and verification: what API Gateway's JWT authorizer checks, for `votectl up`.

Keys: a JWKS (file or URL; RS256/ES256, looked up by ``kid``) or an HS256 secret file; with
neither, the data dir's development secret (``jwt-secret``, mode 0600, created on first use),
which `votectl token` signs with too. Keys are parsed once and kept; a JWKS URL is fetched and
refreshed off the request path (votectl/local/jwks.py), so a gateway starts, and answers 401
saying why, while its issuer is down. Tokens are verified with ``leeway`` seconds of clock skew
allowed on exp, nbf and iat (as PyJWT's ``leeway``); a token that verified is kept until its exp
plus the leeway, or until the key that verified it leaves the key set, so the same token sent
again is not verified again (votectl/local/token_cache.py, as API Gateway caches authorizer
results). votectl/local/authorizer.py puts ``Verifier`` in front of the receiver.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import msgspec
from jwt.utils import base64url_encode

from votectl.config import Stage
from votectl.errors import ConfigError, UsageError
from votectl.local.jwks import (
    FETCH_SECONDS,
    MIN_REFETCH_SECONDS,
    Keys,
    KeyUnknown,
    RemoteKeys,
    fetch_jwks,
    load_jwks,
    pick,
)
from votectl.local.layout import Layout
from votectl.local.token_cache import TokenCache, Verified

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "AuthSettings",
    "Unauthorized",
    "Verifier",
    "auth_settings",
    "dev_secret",
    "exposure_warning",
    "jwks_warning",
    "mint",
]

DEV_ISSUER = "votectl-local"
DEV_AUDIENCE = "votectl"
SECRET_FILE = "jwt-secret"
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key of at least the hash's size
DEFAULT_LEEWAY_SECONDS = 60

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
    leeway: float = DEFAULT_LEEWAY_SECONDS  # seconds of clock skew allowed on exp, nbf, iat


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
        float(stage.jwt_leeway),
    )
    Verifier(settings, fetch=False)  # unreadable keys: a clear error now, not in each gateway
    return settings


def jwks_warning(settings: AuthSettings) -> str | None:
    """A warning when the settings' JWKS URL does not answer now (the gateways start anyway and
    answer 401 until it does), else None."""
    if settings.mode != "jwt" or not _remote(settings.jwks):
        return None
    try:
        fetch_jwks(typing.cast(str, settings.jwks), FETCH_SECONDS)
    except (OSError, ValueError) as exc:
        return (
            f"cannot fetch the JWKS {settings.jwks} ({exc or type(exc).__name__}); every"
            " request gets 401 until it answers (the gateways keep trying)"
        )
    return None


def _remote(source: str | None) -> bool:
    return bool(source) and typing.cast(str, source).startswith(("https://", "http://"))


def dev_secret(data_dir: Path) -> Path:
    """The data dir's development HS256 secret, created (0600) on first use."""
    path = data_dir / SECRET_FILE
    Layout(data_dir).create()
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


class Verifier:
    """Verifies bearer tokens against the settings' keys, issuer and audience.

    PyJWS does the JWS part (parsing, the algorithm allow-list: the key's own algorithm only,
    the signature); the claims are decoded with msgspec and checked here, as PyJWT's decode
    would (exp, nbf, iat, iss, aud, sub): 2.3x cheaper per token than PyJWT's decode, which
    parses with json and prepares the key on every call (benchmarks/auth.py). A token that
    verified is kept in a ``TokenCache``: sent again, it costs a dict lookup.
    """

    def __init__(
        self,
        settings: AuthSettings,
        fetch: bool = True,
        min_refetch: float = MIN_REFETCH_SECONDS,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
        present: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """``fetch`` False: a JWKS URL is not fetched (checking settings, not serving);
        ``clock``: the wall clock that exp, nbf and iat are checked against; ``present``: what
        ``verify`` hands out for a token's checked claims, applied once per token it keeps."""
        self.settings = settings
        self.clock = clock
        self.present = present
        self.cache = TokenCache() if cache is None else cache
        self._jws = jwt.PyJWS()
        self._jwks: RemoteKeys | Keys | None = None
        if _remote(settings.jwks):
            self._jwks = {}
            if fetch:  # a gateway starting: let the first fetch end (bounded), then serve
                remote = RemoteKeys(settings.jwks or "", min_refetch=min_refetch)
                remote.first_attempt.wait(FETCH_SECONDS + 1)
                self._jwks = remote
        elif settings.jwks:
            self._jwks = load_jwks(settings.jwks)
        self._key: jwt.PyJWK | None = None
        if settings.secret_file:
            secret = base64.urlsafe_b64encode(read_secret(settings.secret_file)).decode()
            self._key = jwt.PyJWK({"kty": "oct", "k": secret.rstrip("="), "alg": "HS256"})
        elif self._jwks is None:
            raise ConfigError("auth jwt needs keys: a JWKS or an HS256 secret file")
        self._seen_keys = self._current_keys()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims (as ``present`` puts them), or Unauthorized saying why not."""
        now = self.clock()
        keys = self._current_keys()
        if keys is not self._seen_keys:  # a JWKS refetch changed the set: drop what it left
            self._seen_keys = keys
            self.cache.keep_only(self._current_key)
        kept = self.cache.get(token, now)
        if kept is not None:
            return dict(kept.claims)
        kid, key, claims, signature = self._verify(token)
        self._check(claims, now)
        until = claims["exp"] + self.settings.leeway  # as _check: good while exp > now - leeway
        if self.present is not None:
            claims = self.present(claims)
        if base64url_encode(signature) == token.rpartition(".")[2].encode():  # its one spelling
            self.cache.put(token, Verified(claims, kid, key, until), now)
        return dict(claims)

    def _verify(self, token: str) -> tuple[str | None, jwt.PyJWK, dict[str, Any], bytes]:
        """(kid, key, claims, signature) of a token whose signature verifies; claims unchecked."""
        kid = None
        try:
            if self._jwks is not None:
                kid = jwt.get_unverified_header(token).get("kid")
                key = self._keyed(kid)
            else:
                key = typing.cast(jwt.PyJWK, self._key)
            decoded = self._jws.decode_complete(token, key, [key.algorithm_name])
        except jwt.InvalidAlgorithmError:
            raise Unauthorized("the token's algorithm is not accepted") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is malformed ({exc})") from None
        try:
            claims = _decode_json(decoded["payload"])
        except msgspec.DecodeError:
            raise Unauthorized("the token's claims are not JSON") from None
        if not isinstance(claims, dict):
            raise Unauthorized("the token's claims are not a JSON object")
        return kid if isinstance(kid, str) else None, key, claims, decoded["signature"]

    def _current_keys(self) -> Keys | None:
        """The key set now (a JWKS URL's changes when a refetch brings other keys)."""
        jwks = self._jwks
        return jwks.keys if isinstance(jwks, RemoteKeys) else jwks

    def _current_key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key a token naming ``kid`` is verified with now, if any."""
        keys = self._current_keys()
        return self._key if keys is None else pick(keys, kid)

    @property
    def remote_keys(self) -> RemoteKeys | None:
        """The JWKS URL's key set, when the keys come from one."""
        return self._jwks if isinstance(self._jwks, RemoteKeys) else None

    def _keyed(self, kid: Any) -> jwt.PyJWK:
        keys = self._jwks
        try:
            if isinstance(keys, RemoteKeys):
                return keys.key(kid)
        except KeyUnknown as exc:
            raise Unauthorized(str(exc)) from None
        key = pick(typing.cast(Keys, keys), kid)
        if key is None:
            raise Unauthorized("the token's key (kid) is not in the JWKS")
        return key

    def _check(self, claims: dict[str, Any], now: float) -> None:
        for name in ("exp", "iss", "aud", "sub"):
            if name not in claims:
                raise Unauthorized(f"the token has no {name} claim")
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Unauthorized(f"the token's {name} claim is not a number")
        leeway = self.settings.leeway
        if claims["exp"] <= now - leeway:
            raise Unauthorized("the token has expired")
        if claims.get("nbf", 0) > now + leeway or claims.get("iat", 0) > now + leeway:
            raise Unauthorized("the token is not yet valid")
        if claims["iss"] != self.settings.issuer:
            raise Unauthorized(f"the token's issuer is not {self.settings.issuer}")
        audience = claims["aud"]
        if not (
            audience == self.settings.audience
            or (isinstance(audience, list) and self.settings.audience in audience)
        ):
            raise Unauthorized(f"the token's audience is not {self.settings.audience}")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthorized("the token's sub claim names no one")
        # a sub the votes cannot store as is gets the receiver's 403 (lambdas/identity.py)


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
