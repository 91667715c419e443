"""The endpoint under a hostile client (issue 9, items 2, 3, 4, 8, 9): raw sockets against a real
`votectl up`. Every refusal is JSON; nothing from a cut or refused request is stored."""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import Up, poll, started_up

VOTE = b'{"user_id":"u","title_id":"t","aspect":"story","score":3}'


def connect(up: Up, timeout: float = 10.0) -> socket.socket:
    host, port = up.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    return sock


def exchange(up: Up, raw: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw``, read until the server closes or answers: (status, headers, body)."""
    with connect(up, timeout) as sock:
        sock.sendall(raw)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed without a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def post(path: bytes = b"/votes", body: bytes = VOTE, extra: bytes = b"") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body
    )


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert isinstance(payload["error"], str) and payload["error"]
    assert isinstance(payload["details"], list)


FAST = ("--idle-timeout", "0.5", "--request-timeout", "1")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `votectl up` for the refusals, which store nothing: a process start per test cost
    more than the tests. The tests that count what was stored get their own (``fast``)."""
    with started_up(tmp_path_factory.mktemp("limits") / "local", *FAST) as up:
        yield up


@pytest.fixture
def fast(up_factory: Callable[..., Up]) -> Up:
    return up_factory(*FAST)


def test_a_header_repeated_80000_times_is_refused_at_the_header_limit(shared: Up) -> None:
    raw = b"GET /health HTTP/1.1\r\nhost: x\r\n" + b"x-a: 1234567890123456\r\n" * 80_000 + b"\r\n"
    with connect(shared) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)  # refused, maybe before it was all sent
        status, headers, body = read_response(sock)
    assert_json_error(status, headers, body, 431)
    with shared.client() as client:
        assert client.get("/health").status_code == 200


def test_content_length_over_the_limit_gets_413_before_any_body_is_sent(shared: Up) -> None:
    head = post(body=b"")[: -len(b"content-length: 0\r\n\r\n")]
    status, headers, body = exchange(shared, head + b"content-length: 10485760\r\n\r\n")
    assert_json_error(status, headers, body, 413)
    assert headers["connection"] == "close"


def test_a_chunked_body_is_not_read_past_the_limit(shared: Up) -> None:
    chunk = b"x" * 65536
    raw = (
        b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + (b"10000\r\n" + chunk + b"\r\n") * 5
    )
    status, headers, body = exchange(shared, raw)
    assert_json_error(status, headers, body, 413)


def test_an_idle_connection_is_closed(shared: Up) -> None:
    with connect(shared, timeout=10) as sock:
        assert sock.recv(1) == b""  # closed by the server, well before the socket timeout


def test_slow_headers_get_408_json_and_are_closed(shared: Up) -> None:
    with connect(shared, timeout=10) as sock:
        sock.sendall(b"POST /votes HTTP/1.1\r\nhost: x\r\n")
        status, headers, body = read_response(sock)
        assert sock.recv(1) == b""
    assert_json_error(status, headers, body, 408)


def test_a_body_cut_short_by_the_client_is_not_stored(fast: Up) -> None:
    cut = VOTE.replace(b'"u"', b'"cut"')
    raw = post(body=b"")[: -len(b"content-length: 0\r\n\r\n")]
    with connect(fast) as sock:
        sock.sendall(raw + b"content-length: 200\r\n\r\n" + cut)  # 200 announced, fewer sent
        sock.shutdown(socket.SHUT_WR)  # and the client leaves
        assert sock.recv(65536) == b""  # no answer: there was no request
    status, _, _ = exchange(fast, post(extra=b"connection: close\r\n"))
    assert status == 202
    fast.drained()
    assert fast.stored() == 1
    assert fast.json("results", "t")["aspects"]["story"]["votes"] == 1


def test_the_last_byte_missing_times_out_and_nothing_is_stored(fast: Up) -> None:
    with connect(fast) as sock:
        sock.sendall(post()[:-1])
        status, headers, body = read_response(sock)
    assert_json_error(status, headers, body, 408)
    fast.drained()
    assert fast.stored() == 0


@pytest.mark.parametrize("path", [b"/vot%65s", b"/votes%2F", b"/%76otes"])
def test_encoded_paths_do_not_route_to_votes(shared: Up, path: bytes) -> None:
    status, headers, body = exchange(shared, post(path, extra=b"connection: close\r\n"))
    assert_json_error(status, headers, body, 404)


def test_a_form_post_gets_415_and_stores_nothing(shared: Up) -> None:
    raw = post(extra=b"connection: close\r\n").replace(
        b"application/json", b"application/x-www-form-urlencoded"
    )
    status, headers, body = exchange(shared, raw)
    assert_json_error(status, headers, body, 415)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /votes HTTP/1.1\r\ncontent-length: x\r\n\r\n",
    ],
)
def test_what_http_cannot_parse_gets_a_json_400(shared: Up, raw: bytes) -> None:
    status, headers, body = exchange(shared, raw)
    assert_json_error(status, headers, body, 400)


def test_connections_past_the_open_file_limit_do_not_stop_service(tmp_path: Path) -> None:
    """The gateway may open 256 files: 400 idle connections must not lock clients out."""

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    data_dir = tmp_path / "local"
    proc = subprocess.Popen(
        [sys.executable, "-m", "votectl", "up", "--port", "0", "--quiet"]
        + ["--data-dir", str(data_dir), "--idle-timeout", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=low_limit,
    )
    try:
        url = poll(
            lambda: (
                json.loads((data_dir / "up.json").read_text())["url"]
                if (data_dir / "up.json").exists()
                else None
            )
        )
        up = Up(proc, data_dir, url)
        idle = [connect(up) for _ in range(400)]
        try:
            status, _, body = exchange(up, post(extra=b"connection: close\r\n"))
            assert status == 202, body
        finally:
            for sock in idle:
                sock.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    # the evictions were logged, in the gateway's log (votectl up keeps each child's output)
    assert "connections closed" in (data_dir / "logs" / "gateway-0.log").read_text()
