"""HTTP/1.1 framing on raw sockets against a real `votectl up` (issue 16): pipelining answered
in order, chunked bodies, smuggling attempts refused with nothing stored, obs-fold, bad chunk
sizes, 100-continue, HTTP/1.0, keep-alive; and the per-connection limits on slow bodies."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import Up, poll, start_up, started_up, votectl

HEALTH = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"


def vote(title: str, user: str = "u") -> bytes:
    return json.dumps({"user_id": user, "title_id": title, "aspect": "story", "score": 3}).encode()


def post(body: bytes, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (
        b"POST /votes HTTP/" + version + b"\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n" % len(body) + extra + b"\r\n" + body
    )


class Conn:
    """A raw connection that reads whole responses, one at a time, from a buffer."""

    def __init__(self, to: Up | tuple[str, int], timeout: float = 30.0) -> None:
        if isinstance(to, Up):
            host, port = to.url.removeprefix("http://").rsplit(":", 1)
            to = (host, int(port))
        self.sock = socket.create_connection(to, timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise AssertionError(f"closed without a response: {self.buffer!r}")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                break
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), headers, body

    def closed(self) -> bool:
        """True once the server has closed (after any bytes still buffered)."""
        return not self.buffer and not self._fill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    # a long request timeout: only the minimum rate can cut a slow body here
    with started_up(tmp_path_factory.mktemp("framing") / "local", "--request-timeout", "60") as up:
        yield up


def votes_for(up: Up, title: str) -> int:
    up.drained()
    result = votectl("results", title, "--data-dir", str(up.data_dir), "--json")
    if result.returncode == 1 and "no votes found" in result.stderr:
        return 0
    assert result.returncode == 0, result.stderr
    return sum(a["votes"] for a in json.loads(result.stdout)["aspects"].values())


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["error"] and isinstance(payload["details"], list)


def test_pipelined_requests_are_all_answered_in_order(server: Up) -> None:
    with Conn(server) as conn:
        conn.send(post(vote("pipe", "a")) + post(vote("pipe", "b")) + HEALTH)
        answers = [conn.response() for _ in range(3)]
    assert [status for status, _, _ in answers] == [202, 202, 200]
    ids = [json.loads(body)["request_id"] for _, _, body in answers[:2]]
    assert ids[0] != ids[1]
    assert json.loads(answers[2][2]) == {"status": "ok"}
    assert votes_for(server, "pipe") == 2


def test_a_long_mixed_pipeline_is_answered_in_order(server: Up) -> None:
    requests = [
        post(vote("long", f"u{n}")) if n % 3 else b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n"
        for n in range(60)
    ]
    with Conn(server) as conn:
        conn.send(b"".join(requests))
        statuses = [conn.response()[0] for _ in requests]
    assert statuses == [202 if n % 3 else 404 for n in range(60)]
    assert votes_for(server, "long") == 40


def test_a_malformed_request_in_a_pipeline_ends_it_after_the_earlier_answers(server: Up) -> None:
    with Conn(server) as conn:
        conn.send(post(vote("cut", "first")) + b"GARBAGE\r\n\r\n" + post(vote("cut", "after")))
        assert conn.response()[0] == 202
        assert_json_error(*conn.response(), 400)
        assert conn.closed()
    assert votes_for(server, "cut") == 1  # the request after the garbage was never read


def test_a_chunked_body_with_extensions_is_stored(server: Up) -> None:
    body = vote("chunked")
    parts = [body[:10], body[10:25], body[25:]]
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with Conn(server) as conn:
        conn.send(
            b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + chunked + HEALTH
        )
        assert conn.response()[0] == 202
        assert conn.response()[0] == 200  # the connection kept its framing after the chunks
    assert votes_for(server, "chunked") == 1


def _smuggled(title: str) -> bytes:
    """A second request hidden in a body, if the framing were read the other way."""
    return post(vote(title, "smuggled"))


def test_content_length_with_transfer_encoding_is_400_and_nothing_is_smuggled(server: Up) -> None:
    hidden = _smuggled("clte")
    body = b"0\r\n\r\n" + hidden
    raw = (
        b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\ntransfer-encoding: chunked\r\n\r\n" % len(body) + body
    )
    with Conn(server) as conn:
        conn.send(raw)
        assert_json_error(*conn.response(), 400)
        assert conn.closed()
    assert votes_for(server, "clte") == 0


@pytest.mark.parametrize("second", [b"content-length: 0", b"content-length: 5"])
def test_conflicting_or_repeated_content_length_is_400_and_nothing_is_stored(
    server: Up, second: bytes
) -> None:
    body = vote("dupcl")
    raw = post(body, second + b"\r\n") + _smuggled("dupcl")
    with Conn(server) as conn:
        conn.send(raw)
        assert_json_error(*conn.response(), 400)
        assert conn.closed()
    assert votes_for(server, "dupcl") == 0


def test_an_obs_folded_header_is_400(server: Up) -> None:
    with Conn(server) as conn:
        conn.send(post(vote("fold"), b"x-folded: a\r\n  b\r\n"))
        assert_json_error(*conn.response(), 400)
        assert conn.closed()
    assert votes_for(server, "fold") == 0


@pytest.mark.parametrize("size", [b"zz", b"-1", b"ffffffffffffffffffff", b" 5"])
def test_a_bad_chunk_size_is_400_and_nothing_is_stored(server: Up, size: bytes) -> None:
    raw = (
        b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + size + b"\r\n" + vote("badchunk") + b"\r\n0\r\n\r\n"
    )
    with Conn(server) as conn:
        conn.send(raw)
        assert_json_error(*conn.response(), 400)
        assert conn.closed()
    assert votes_for(server, "badchunk") == 0


def test_expect_100_continue_gets_100_then_the_answer(server: Up) -> None:
    body = vote("continue")
    head = post(body, b"expect: 100-continue\r\n")[: -len(body)]
    with Conn(server) as conn:
        conn.send(head)
        status, _, interim = conn.response()
        assert (status, interim) == (100, b"")
        conn.send(body)
        assert conn.response()[0] == 202
    assert votes_for(server, "continue") == 1


def test_expect_100_continue_over_the_body_limit_gets_413_and_no_100(server: Up) -> None:
    raw = (
        b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"expect: 100-continue\r\ncontent-length: 10485760\r\n\r\n"
    )
    with Conn(server) as conn:
        conn.send(raw)
        status, headers, body = conn.response()
        assert_json_error(status, headers, body, 413)
        assert headers["connection"] == "close"


def test_http_1_0_closes_unless_asked_to_keep_alive(server: Up) -> None:
    with Conn(server) as conn:
        conn.send(post(vote("ten", "a"), version=b"1.0"))
        status, headers, _ = conn.response()
        assert (status, headers["connection"]) == (202, "close")
        assert conn.closed()
    with Conn(server) as conn:
        conn.send(post(vote("ten", "b"), b"connection: keep-alive\r\n", version=b"1.0"))
        status, headers, _ = conn.response()
        assert (status, headers["connection"]) == (202, "keep-alive")
        conn.send(b"GET /health HTTP/1.0\r\n\r\n")
        assert conn.response()[0] == 200
        assert conn.closed()
    assert votes_for(server, "ten") == 2


def test_keep_alive_serves_requests_one_after_another_until_connection_close(server: Up) -> None:
    with Conn(server) as conn:
        for n in range(5):
            conn.send(post(vote("keep", f"k{n}")))
            status, headers, _ = conn.response()
            assert status == 202 and "connection" not in headers
        conn.send(post(vote("keep", "last"), b"connection: close\r\n"))
        status, headers, _ = conn.response()
        assert (status, headers["connection"]) == (202, "close")
        assert conn.closed()
    assert votes_for(server, "keep") == 6


def test_head_gets_the_headers_without_a_body(server: Up) -> None:
    with Conn(server) as conn:
        conn.send(b"HEAD /health HTTP/1.1\r\nhost: x\r\n\r\n" + HEALTH)
        data = b""
        while data.count(b"HTTP/1.1") < 2 or not data.endswith(b'{"status":"ok"}'):
            chunk = conn.sock.recv(65536)
            assert chunk, data
            data += chunk
    first, second = data.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"405") and first.endswith(b"\r\n\r\n")  # GET only; no body
    assert second.startswith(b"200")


def test_a_body_slower_than_the_minimum_rate_is_cut_with_408(server: Up) -> None:
    body = vote("slow")
    with Conn(server) as conn:
        conn.send(post(body)[: -len(body)] + body[:1])
        received: list[tuple[int, dict[str, str], bytes]] = []

        def trickle() -> bool:  # a byte now and then, as a slow attacker sends
            conn.sock.settimeout(0.5)
            try:
                received.append(conn.response())
            except TimeoutError:
                conn.send(b" ")
            return bool(received)

        poll(trickle, timeout=30, interval=0)
        assert_json_error(*received[0], 408)
    assert votes_for(server, "slow") == 0


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Up]:
    with started_up(tmp_path / "local", "--max-connections", "16", "--request-timeout", "60") as up:
        yield up


def test_a_connection_mid_body_is_evicted_for_a_newcomer_over_the_cap(capped: Up) -> None:
    body = vote("cap")
    slow = [Conn(capped) for _ in range(16)]
    try:
        for conn in slow:
            conn.send(post(body)[: -len(body)] + body[:5])
        with Conn(capped) as newcomer:
            newcomer.send(post(vote("cap", "newcomer")))
            assert newcomer.response()[0] == 202
        assert_json_error(*slow[0].response(), 408)  # the one silent the longest
    finally:
        for conn in slow:
            conn.sock.close()
    assert votes_for(capped, "cap") == 1


def test_a_packed_message_in_the_dlq_can_be_read_and_redriven(tmp_path: Path) -> None:
    """Requests committed together travel as one message: in the DLQ it is still votes a
    person can read, and a redrive stores every one of them."""
    data_dir = tmp_path / "local"
    failing = ("--chaos", "processor=1", "--max-receive-count", "1")
    up = start_up(data_dir, *failing, "--visibility-timeout", "0.3")
    try:
        with Conn(up) as conn:  # one write: one group commit, one packed message
            conn.send(b"".join(post(vote("packed", f"p{n}")) for n in range(3)))
            assert [conn.response()[0] for _ in range(3)] == [202, 202, 202]

        def dead() -> list[dict[str, object]]:
            messages = up.json("queue", "peek", "votes-dlq")["messages"]
            return messages if sum(int(m["votes"]) for m in messages) == 3 else []

        peeked = poll(dead, timeout=30)
        assert len(peeked) == 1  # the three requests' votes in one message
        assert all(m["problem"] is None for m in peeked)
        assert {s["user_id"] for m in peeked for s in m["sample"]} == {"p0", "p1", "p2"}
    finally:
        up.proc.send_signal(signal.SIGTERM)
        up.proc.wait(10)
    assert up.json("redrive")["moved"] >= 1
    with started_up(data_dir) as healthy:
        poll(lambda: votes_for(healthy, "packed") == 3, timeout=30)
