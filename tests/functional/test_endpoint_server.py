"""The endpoint's server in-process, with limits a test can reach: the budget for buffered
bodies across connections, and a graceful stop that answers what is in flight. A real server
on 127.0.0.1, the real receiver and a real SQLite queue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lambdas import receiver
from lambdas.envelope import read
from tests.functional.conftest import poll
from tests.functional.test_framing import Conn, assert_json_error, post, vote
from votectl.local.db import connect
from votectl.local.gateway import SEND_BUDGET_SECONDS, Gateway, GroupCommitQueue
from votectl.local.limits import Limits
from votectl.local.protocol import Endpoint
from votectl.local.queue import SqliteQueue


@dataclass
class Served:
    port: int
    endpoint: Endpoint
    loop: asyncio.AbstractEventLoop
    queue_path: Path

    def conn(self) -> Conn:
        return Conn(("127.0.0.1", self.port))

    def stored_votes(self) -> list[str]:
        queue = SqliteQueue(self.queue_path, "votes")
        try:
            messages = queue.receive(100, 30)
            return [v.user_id for m in messages for v in read(m.body).votes]
        finally:
            queue.close()


@contextmanager
def serving(
    tmp_path: Path, limits: Limits, budget: float = SEND_BUDGET_SECONDS
) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    path = tmp_path / "votes-queue.db"
    SqliteQueue.create(path, "votes")

    async def start() -> tuple[Endpoint, SqliteQueue, asyncio.Server]:
        queue = SqliteQueue(path, "votes", lock_wait=0)
        group = GroupCommitQueue(queue, loop, budget)
        endpoint = Endpoint(Gateway(receiver.make_handler(group), group), limits, loop)
        server = await loop.create_server(endpoint.connection, "127.0.0.1", 0)
        endpoint.start()
        return endpoint, queue, server

    endpoint, queue, server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield Served(server.sockets[0].getsockname()[1], endpoint, loop, path)
    finally:

        async def stop() -> None:
            server.close()
            await endpoint.shutdown(1.0)
            queue.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


BUDGET = Limits(small_body_bytes=1024, body_budget_bytes=100_000, request_seconds=60)


def _upload_head(size: int) -> bytes:
    return (
        b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % size
    )


def test_uploads_past_the_budget_get_503_and_small_requests_still_pass(tmp_path: Path) -> None:
    with serving(tmp_path, BUDGET) as served:
        holder = served.conn()
        holder.send(_upload_head(90_000) + b"[" * 80_000)  # held, mid-body
        poll(lambda: served.endpoint.charged >= 80_000 - 1024)
        with served.conn() as late:  # would pass the budget: refused before its body is sent
            late.send(_upload_head(50_000))
            status, headers, body = late.response()
            assert_json_error(status, headers, body, 503)
            assert headers["retry-after"] == "1"
        with served.conn() as small:  # a vote's size is always admitted
            small.send(post(vote("budget", "small")))
            assert small.response()[0] == 202
        holder.sock.close()
        poll(lambda: served.endpoint.charged == 0 and served.endpoint.buffered == 0)
        with served.conn() as again:  # the budget came back: read whole, then judged (400)
            again.send(_upload_head(50_000) + b"[" * 50_000)
            assert_json_error(*again.response(), 400)
        assert served.stored_votes() == ["small"]


def test_a_graceful_stop_answers_the_requests_in_flight(tmp_path: Path) -> None:
    # the lock is held across the steps below: a budget no loaded machine can run out
    with serving(tmp_path, Limits(), budget=60) as served:
        holder = connect(served.queue_path, lock_wait=0)
        holder.execute("BEGIN IMMEDIATE")  # the commit waits: requests stay in flight
        with served.conn() as conn, served.conn() as idle:
            conn.send(post(vote("stop", "a")) + post(vote("stop", "b")))
            poll(lambda: served.endpoint.gateway.requests == 2)
            stopping = asyncio.run_coroutine_threadsafe(served.endpoint.shutdown(10), served.loop)
            assert idle.closed()  # nothing in flight there: closed at once, unanswered
            holder.execute("COMMIT")
            assert [conn.response()[0] for _ in range(2)] == [202, 202]
            assert conn.closed()
            stopping.result(10)
        holder.close()
        assert sorted(served.stored_votes()) == ["a", "b"]
