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
