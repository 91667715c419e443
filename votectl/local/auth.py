"""Local JWT verification: what API Gateway's JWT authorizer does, for `votectl up --auth jwt`.

Keys: a JWKS (file or URL; RS256/ES256, looked up by ``kid``) or an HS256 secret file; with
neither, the data dir's development secret (``jwt-secret``, mode 0600, created on first use),
which `votectl token` signs with too. Keys are parsed once and kept (a JWKS URL is fetched again
at most once a minute, for a ``kid`` it does not know); tokens are verified on every request,
never cached. PyJWT does the cryptography and the claim checks (exp, nbf, iat, iss, aud).

``guard`` puts the checks in front of a handler, as API Gateway does in front of the receiver:
CORS preflights answered, every route but ``GET /health`` needs a bearer token, and a verified
token's claims go to ``requestContext.authorizer.jwt.claims`` as strings, as AWS sends them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

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
    "guard",
    "mint",
]

DEV_ISSUER = "votectl-local"
DEV_AUDIENCE = "votectl"
SECRET_FILE = "jwt-secret"
ASYMMETRIC = ("RS256", "ES256")
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key of at least the hash's size
JWKS_REFETCH_SECONDS = 60.0

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class AuthSettings:
    """What the gateway processes need (picklable): the mode, the claims to expect, the keys."""

    mode: str = "none"
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    jwks: str | None = None
    secret_file: str | None = None
    cors_origins: tuple[str, ...] = ()


def auth_settings(stage: Any) -> AuthSettings:
    """A stage's auth settings for the local target; the dev secret is created if it is used."""
    jwt_flags = stage.jwt_jwks or stage.jwt_secret_file or stage.jwt_issuer or stage.jwt_audience
    if stage.auth != "jwt":
        if jwt_flags:
            raise UsageError("JWT settings given with auth none", hint="add --auth jwt")
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
    """Verifies bearer tokens against the settings' keys, issuer and audience."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._decoder = jwt.PyJWT()
        self._options = {"require": ["exp", "iss", "aud", "sub"]}
        self._jwks = _JwksKeys(settings.jwks) if settings.jwks else None
        self._secret = read_secret(settings.secret_file) if settings.secret_file else b""
        self._algorithms = list(ASYMMETRIC) if self._jwks else ["HS256"]

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized saying why not."""
        try:
            key: Any = self._secret
            if self._jwks is not None:
                key = self._jwks.key(jwt.get_unverified_header(token).get("kid"))
            return self._decoder.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not yet valid") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(f"the token's audience is not {self.settings.audience}") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(f"the token's issuer is not {self.settings.issuer}") from None
        except jwt.InvalidAlgorithmError:
            allowed = ", ".join(self._algorithms)
            raise Unauthorized(f"the token's algorithm is not accepted ({allowed})") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the token has no {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is malformed ({exc})") from None


def _claim_text(value: Any) -> str:
    """A claim as API Gateway passes it on: numbers and booleans as text, arrays as [a b]."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# --- in front of the receiver -----------------------------------------------------------------

_JSON = "application/json"
_CORS_METHODS = "GET,POST"
_CORS_HEADERS = "authorization,content-type"
CORS_MAX_AGE = 600


def _unauthorized(message: str, header: str) -> dict[str, Any]:
    return {
        "statusCode": 401,
        "headers": {"content-type": _JSON, "www-authenticate": header},
        "body": json.dumps({"error": message, "details": []}),
    }


def _bearer(headers: dict[str, str]) -> str:
    """The token of the Authorization header: ``Bearer TOKEN`` or the bare token, as the
    HTTP API's identity source ``$request.header.Authorization`` accepts."""
    value = headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


def guard(handler: Handler, settings: AuthSettings) -> Handler:
    """``handler`` behind CORS and (with mode jwt) the JWT authorizer; unchanged when both
    are off."""
    verifier = Verifier(settings) if settings.mode == "jwt" else None
    origins = settings.cors_origins
    if verifier is None and not origins:
        return handler

    def allow_origin(headers: dict[str, str]) -> dict[str, str]:
        origin = headers.get("origin")
        if origin is None or not (origin in origins or "*" in origins):
            return {}
        return {"access-control-allow-origin": "*" if "*" in origins else origin, "vary": "origin"}

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        headers = event.get("headers") or {}
        http = event["requestContext"]["http"]
        cors = allow_origin(headers) if origins else {}
        if origins and http["method"] == "OPTIONS" and "access-control-request-method" in headers:
            return {"statusCode": 204, "headers": _preflight(cors), "body": ""}
        response = _authorized(event, http, headers, verifier) or handler(event, context)
        if cors:
            response["headers"] = {**(response.get("headers") or {}), **cors}
        return response

    return handle


def _preflight(cors: dict[str, str]) -> dict[str, str]:
    """A preflight's answer: the allowed methods and headers, for an allowed origin only."""
    if not cors:
        return {}
    return {
        **cors,
        "access-control-allow-methods": _CORS_METHODS,
        "access-control-allow-headers": _CORS_HEADERS,
        "access-control-max-age": str(CORS_MAX_AGE),
    }


def _authorized(
    event: dict[str, Any], http: dict[str, Any], headers: dict[str, str], verifier: Any
) -> dict[str, Any] | None:
    """None when the request may go on (claims put in the event); else the 401 to send."""
    if verifier is None or (http["method"] == "GET" and event.get("rawPath") == "/health"):
        return None
    token = _bearer(headers)
    if not token:
        return _unauthorized(
            "a bearer token is required (Authorization: Bearer TOKEN)", 'Bearer realm="votectl"'
        )
    try:
        claims = verifier.verify(token)
    except Unauthorized as exc:
        said = str(exc).replace('"', "'")
        return _unauthorized(
            str(exc), f'Bearer realm="votectl", error="invalid_token", error_description="{said}"'
        )
    event["requestContext"]["authorizer"] = {
        "jwt": {"claims": {k: _claim_text(v) for k, v in claims.items()}, "scopes": None}
    }
    return None


def exposure_warning(host: str, auth: str) -> str | None:
    """A warning when an endpoint without authentication listens beyond this machine."""
    if auth != "none":
        return None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"listening on {host} with auth none: anyone who can reach it votes as any user_id"
        " (use --auth jwt)"
    )
