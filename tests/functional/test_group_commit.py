"""The gateway's group commit: concurrent sends share one commit; a held lock delays, never
loses, and never blocks the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from votectl.local.db import connect
from votectl.local.gateway import GroupCommitQueue
from votectl.local.queue import SqliteQueue


def test_sends_on_one_loop_iteration_share_a_commit(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        queue = SqliteQueue(tmp_path / "q.db", "votes", lock_wait=0)
        group = GroupCommitQueue(queue, asyncio.get_running_loop())
        tickets = []
        for i in range(50):
            group.send([f"m{i}".encode()])
            tickets.append(group.take_ticket())
        await asyncio.gather(*tickets)
        return [len({id(t) for t in tickets}), queue.stats()[0].visible]

    distinct_commits, visible = asyncio.run(scenario())
    assert visible == 50
    assert distinct_commits == 1  # the commit runs after every send of this loop iteration


def test_a_held_lock_delays_the_commit_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    holder = connect(path, lock_wait=0)
    queue = SqliteQueue(path, "votes", lock_wait=0)

    async def scenario() -> tuple[bool, int, int]:
        group = GroupCommitQueue(queue, asyncio.get_running_loop())
        holder.execute("BEGIN IMMEDIATE")  # another process's poller, mid-transaction
        group.send([b"late"])
        ticket = group.take_ticket()
        assert ticket is not None
        ticks = 0
        for _ in range(20):  # the loop keeps turning while the commit waits
            await asyncio.sleep(0.001)
            ticks += 1
        waited = not ticket.done()
        holder.execute("COMMIT")
        await asyncio.wait_for(ticket, 5)
        return waited, ticks, queue.stats()[0].visible

    waited, ticks, visible = asyncio.run(scenario())
    assert waited and ticks == 20
    assert visible == 1


def test_a_lock_held_past_the_budget_fails_the_send_and_writes_nothing(tmp_path: Path) -> None:
    """Past its budget a send's ticket fails (the endpoint answers 503) and none of it is in
    the inbox; sends once the lock is free commit as before."""
    path = tmp_path / "q.db"
    holder = connect(path, lock_wait=0)
    queue = SqliteQueue(path, "votes", lock_wait=0)

    async def scenario() -> tuple[BaseException | None, BaseException | None, int]:
        group = GroupCommitQueue(queue, asyncio.get_running_loop(), budget=0.2)
        holder.execute("BEGIN IMMEDIATE")  # a stopped sender, mid-transaction
        group.send([b"refused"])
        first = group.take_ticket()
        await asyncio.sleep(0.05)  # a later send, while the first commit waits for the lock
        group.send([b"refused too"])
        second = group.take_ticket()
        assert first is not None and second is not None and first is not second
        await asyncio.wait([first, second], timeout=20)
        holder.execute("ROLLBACK")
        group.send([b"stored"])
        third = group.take_ticket()
        assert third is not None
        await asyncio.wait_for(third, 20)
        return first.exception(), second.exception(), queue.stats()[0].visible

    first, second, visible = asyncio.run(scenario())
    assert isinstance(first, TimeoutError) and isinstance(second, TimeoutError)
    assert visible == 1
    bodies = [row[0] for row in connect(path).execute("SELECT body FROM inbox")]
    assert bodies == ["stored"]
