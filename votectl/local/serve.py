"""A gateway process's main: the endpoint (votectl/local/protocol.py) serving the Gateway on a
socket the supervisor bound.

Several gateway processes may share one listening socket (``votectl up --workers N``); each has
its own group commit into the votes queue. Signals are the supervisor's: a gateway stops when
told to (``stop``) or when the supervisor is gone, after answering the requests in flight.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import Any

from lambdas import receiver
from votectl.local.auth import AuthSettings
from votectl.local.authorizer import guard
from votectl.local.chaos import chaotic
from votectl.local.gateway import Gateway, GroupCommitQueue
from votectl.local.layout import Layout
from votectl.local.limits import Limits
from votectl.local.orphan import supervisor_alive
from votectl.local.protocol import Endpoint
from votectl.local.queue import SqliteQueue
from votectl.local.stamps import ReceiptClock

__all__ = ["GatewaySpec", "default_workers", "run_gateway"]

BACKLOG = 2048  # uvicorn's default, which this endpoint replaced
SHUTDOWN_GRACE_SECONDS = 5.0  # requests mid-body when told to stop may finish within it


@dataclass(frozen=True)
class GatewaySpec:
    data_dir: str
    index: int = 0
    chaos: float = 0.0
    visibility_timeout: float = 30.0
    max_receive_count: int = 3
    limits: Limits = field(default_factory=Limits)
    extra: dict[str, Any] = field(default_factory=dict)
    auth: AuthSettings = AuthSettings()
    workers: int = 1  # gateway processes sharing the data dir


def default_workers(cores: int | None = None) -> int:
    """Gateway processes for `votectl up` when not told: half the cores, 1 to 4.

    A gateway process fills about one core at full load; the processor, the writer and, on a
    user's machine, the load generator need the other half. Past 4 the writer (one process,
    about 13 us per vote) is the limit, not the gateways (docs/endpoint.md, "Workers").
    """
    return max(1, min(4, (cores or os.cpu_count() or 1) // 2))


def use_uvloop() -> None:
    """uvloop where installed (a dependency but on Windows): about twice asyncio's rate."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_gateway(
    spec: GatewaySpec, sock: socket.socket, ready: Any, accepted: Any, stop: Any
) -> None:
    """Serve until ``stop`` is set or the parent dies; ``accepted[spec.index]`` counts votes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="gateway: %(message)s")
    use_uvloop()
    asyncio.run(_serve(spec, sock, stop, ready, accepted))


async def _serve(
    spec: GatewaySpec, sock: socket.socket, stop: Any, ready: Any, accepted: Any
) -> None:
    layout = Layout.of(spec.data_dir)
    votes = SqliteQueue(
        layout.votes_db,
        "votes",
        spec.visibility_timeout,
        spec.max_receive_count,
        lock_wait=0,
        checkpoints=False,  # none after each commit: the sends' upkeep truncates the WAL
    )
    queue = GroupCommitQueue(votes, asyncio.get_running_loop())
    # receipt stamps never step back in the data dir; one gateway needs no lock to keep them so
    clock = ReceiptClock(layout.clock_file, shared=spec.workers > 1)
    handler = chaotic("receiver", receiver.make_handler(queue, clock), spec.chaos)
    gateway = Gateway(guard(handler, spec.auth), queue)  # API Gateway's CORS and authorizer
    loop = asyncio.get_running_loop()
    endpoint = Endpoint(gateway, spec.limits.within_open_files(), loop)
    server = await loop.create_server(endpoint.connection, sock=sock, backlog=BACKLOG)
    endpoint.start()
    ready.set()
    while not stop.is_set() and supervisor_alive():
        accepted[spec.index] = gateway.accepted
        await asyncio.sleep(0.05)
    server.close()  # no new connections; those open are answered, then closed
    await endpoint.shutdown(SHUTDOWN_GRACE_SECONDS)
    accepted[spec.index] = gateway.accepted
    votes.close()
    clock.close()
