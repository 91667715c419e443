"""A closed connection is freed when it closes, with its buffers: not left to the cyclic garbage
collector, which an attacker's churn of connections would keep busy walking every live one."""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import poll
from tests.functional.test_endpoint_server import BUDGET, _upload_head, serving
from tests.functional.test_framing import post, vote
from votectl.local.protocol import HttpConnection


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_closed_connections_are_freed_without_the_cyclic_collector(
    tmp_path: Path, no_cyclic_gc: None
) -> None:
    with serving(tmp_path, BUDGET) as served:
        sent = [
            b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",  # answered, closed
            post(vote("mem", "a")),  # a vote on keep-alive, then the client leaves
            b"GET /health HTTP/1.1\r\nhost: x\r\n x-folded: y\r\n\r\n",  # refused: 400
            _upload_head(200_000) + b"[" * 50_000,  # over the body budget: 503
            _upload_head(90_000) + b"[" * 5_000,  # mid-body when the client leaves
            b"",  # never a byte
        ]
        for _ in range(5):
            for raw in sent:
                sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
                sock.sendall(raw)
                if raw.endswith(b"\r\n\r\n"):
                    assert sock.recv(4096).startswith(b"HTTP/1.1 ")
                sock.close()
        poll(lambda: not served.endpoint.connections)
        alive = [
            o
            for o in gc.get_objects()
            if isinstance(o, HttpConnection) and o._ep is served.endpoint
        ]
        assert alive == []
        assert served.endpoint.buffered == 0 and served.endpoint.charged == 0
