"""A JWKS's keys by ``kid``, from a file (read once) or a URL (fetched off the request path).

A URL's keys are fetched by one background thread: at start, again every
``REFRESH_SECONDS``, sooner when a token names a ``kid`` the set lacks (no sooner than
``MIN_REFETCH_SECONDS`` after the last fetch, so forged kids cannot make the gateway hammer the
issuer), and every few seconds (backing off) while no set has ever arrived. A fetch is bounded in
total time (``FETCH_SECONDS``: a watchdog shuts the socket down, so a server trickling a byte
every few seconds cannot hold it), and only one runs at a time. A failed fetch keeps the last
good set; a fetch that brings the same keys keeps the set as it was (the same objects), so the
verified tokens kept for them stay (votectl/local/token_cache.py). ``key`` never waits on the
network: a ``kid`` not in the set is Unauthorized at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from votectl.errors import ConfigError

__all__ = [
    "FETCH_SECONDS",
    "KeyUnknown",
    "Keys",
    "RemoteKeys",
    "fetch_jwks",
    "load_jwks",
    "pick",
    "read_jwks",
]

ASYMMETRIC = ("RS256", "ES256")
FETCH_SECONDS = 5.0  # a fetch's whole budget: connect, headers and body
MIN_REFETCH_SECONDS = 60.0
REFRESH_SECONDS = 300.0
FIRST_RETRY_SECONDS = 1.0
MAX_JWKS_BYTES = 1 << 20
_NOT_YET = "not fetched yet"

log = logging.getLogger("votectl.auth")

Keys = dict[str | None, jwt.PyJWK]


class KeyUnknown(Exception):
    """The token's key is not (yet) in the set: HTTP 401, never a wait."""


def pick(keys: Keys, kid: object) -> jwt.PyJWK | None:
    """The key for a token naming ``kid``: that key, or the only key when it names none."""
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid) if kid is None or isinstance(kid, str) else None


def _unchanged(before: Keys, fetched: Keys) -> Keys:
    """``fetched``, with the keys that did not change kept as the objects ``before`` held (and
    ``before`` itself when nothing changed)."""
    kept = {
        kid: old if (old := before.get(kid)) is not None and _same(old, new) else new
        for kid, new in fetched.items()
    }
    if kept.keys() == before.keys() and all(kept[k] is before[k] for k in kept):
        return before
    return kept


def _same(a: jwt.PyJWK, b: jwt.PyJWK) -> bool:
    return a.algorithm_name == b.algorithm_name and a.key == b.key


def read_jwks(document: object, source: str) -> Keys:
    """The RS256/ES256 keys of a JWKS document; ValueError saying why there are none."""
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    found = jwt.PyJWKSet.from_dict(document).keys
    usable = {k.key_id: k for k in found if k.algorithm_name in ASYMMETRIC}
    if not usable:
        raise ValueError(f"the JWKS {source} has no RS256 or ES256 key")
    return usable


def load_jwks(path: str) -> Keys:
    """A JWKS file's keys; ConfigError if it cannot be read or holds none."""
    try:
        return read_jwks(json.loads(Path(path).read_text()), path)
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise ConfigError(f"cannot load the JWKS {path}: {exc}") from None


def fetch_jwks(url: str, budget: float = FETCH_SECONDS) -> Keys:
    """A JWKS URL's keys, fetched within ``budget`` seconds in all; OSError or ValueError."""
    parts = urlsplit(url)
    connection = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    conn = connection(parts.hostname or "", parts.port, timeout=budget)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + budget
    sockets: list[socket.socket] = []
    watchdog = threading.Timer(budget, _shut, (sockets,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.connect()  # within ``budget`` (the connection's timeout)
        sockets.append(conn.sock)  # the response keeps reading it after conn lets it go
        conn.request("GET", path, headers={"accept": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            raise OSError(f"HTTP {response.status} {response.reason}")
        body = bytearray()
        while chunk := response.read1(65536):
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"the JWKS is over {MAX_JWKS_BYTES} bytes")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no whole answer within {budget:g} s")
        return read_jwks(json.loads(body), url)
    except jwt.PyJWTError as exc:
        raise ValueError(str(exc)) from None
    except OSError:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no whole answer within {budget:g} s") from None
        raise
    finally:
        watchdog.cancel()
        conn.close()


def _shut(sockets: list[socket.socket]) -> None:
    """The watchdog: wake a read blocked on a slow server (shutdown, unlike close, does)."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class RemoteKeys:
    """A JWKS URL's keys, kept fresh by a daemon thread; see the module docstring."""

    def __init__(
        self,
        url: str,
        budget: float = FETCH_SECONDS,
        min_refetch: float = MIN_REFETCH_SECONDS,
    ) -> None:
        self.url = url
        self.budget = budget
        self.min_refetch = min_refetch
        self.keys: Keys = {}
        self.error: str | None = _NOT_YET
        self.fetches = 0  # fetches started (for tests and benchmarks)
        self.fetched = 0  # fetches ended, either way
        self.fetch_threads: set[str] = set()  # the threads that fetched (never a request's)
        self._wanted = threading.Event()
        self.first_attempt = threading.Event()  # set once the first fetch ended, either way
        self._thread = threading.Thread(target=self._run, name="jwks-refresh", daemon=True)
        self._thread.start()

    def key(self, kid: object) -> jwt.PyJWK:
        keys = self.keys
        found = pick(keys, kid)
        if found is not None:
            return found
        self._wanted.set()  # the thread fetches again when the rate limit allows
        if not keys:
            raise KeyUnknown(
                f"no signing keys yet: the JWKS {self.url} could not be fetched ({self.error});"
                " every request gets 401 until it answers"
            )
        raise KeyUnknown("the token's key (kid) is not in the JWKS")

    def _run(self) -> None:
        retry = FIRST_RETRY_SECONDS
        while True:
            started = time.monotonic()
            self._fetch()
            self.first_attempt.set()
            if not self.keys:  # none yet: try again soon, backing off; requests cannot hurry it
                time.sleep(retry)
                retry = min(retry * 2, max(self.min_refetch, FIRST_RETRY_SECONDS))
                continue
            self._wanted.clear()
            self._wanted.wait(REFRESH_SECONDS)
            pause = started + self.min_refetch - time.monotonic()
            if pause > 0:  # asked for sooner than the rate limit allows: wait it out
                time.sleep(pause)

    def _fetch(self) -> None:
        self.fetches += 1
        self.fetch_threads.add(threading.current_thread().name)
        try:
            keys = fetch_jwks(self.url, self.budget)
        except (OSError, ValueError) as exc:
            said = str(exc) or type(exc).__name__
            if self.error is None or self.error == _NOT_YET:
                kept = (
                    f"keeping the {len(self.keys)} keys fetched before"
                    if self.keys
                    else "every request gets 401 until its keys arrive"
                )
                log.warning("cannot fetch the JWKS %s (%s); %s", self.url, said, kept)
            self.error = said
        else:
            if self.error is not None and self.error != _NOT_YET:
                log.warning("the JWKS %s answers again: %d keys", self.url, len(keys))
            self.keys, self.error = _unchanged(self.keys, keys), None
        self.fetched += 1
