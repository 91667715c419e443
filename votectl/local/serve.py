"""A gateway process's main: uvicorn serving the Gateway on a socket the supervisor bound.

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

import uvicorn

from lambdas import receiver
from votectl.local.auth import AuthSettings
from votectl.local.authorizer import guard
from votectl.local.chaos import chaotic
from votectl.local.gateway import Gateway, GroupCommitQueue
from votectl.local.layout import Layout
from votectl.local.limits import GuardedHttp, Limits
from votectl.local.queue import SqliteQueue
from votectl.local.stamps import ReceiptClock

__all__ = ["GatewaySpec", "run_gateway"]


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


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the supervisor owns the signals."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    def capture_signals(self) -> Any:  # uvicorn >= 0.29
        import contextlib

        return contextlib.nullcontext()


def use_uvloop() -> None:
    """uvloop where installed (it comes with uvicorn[standard]): about twice asyncio's rate."""
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
        checkpoints=False,  # the processor's garbage collection checkpoints the inbox
    )
    queue = GroupCommitQueue(votes, asyncio.get_running_loop())
    clock = ReceiptClock(layout.clock_file)  # receipt stamps never step back in the data dir
    handler = chaotic("receiver", receiver.make_handler(queue, clock), spec.chaos)
    gateway = Gateway(guard(handler, spec.auth), queue)  # API Gateway's CORS and authorizer
    GuardedHttp.limits = spec.limits.within_open_files()
    config = uvicorn.Config(
        gateway,
        loop="none",
        http=GuardedHttp,
        timeout_keep_alive=int(GuardedHttp.limits.idle_seconds) + 1,  # the protocol's is sooner
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="error",  # the protocol logs refusals in tallies, not one line each
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    parent = os.getppid()
    announced = False
    while not serving.done():
        if server.started and not announced:
            ready.set()
            announced = True
        accepted[spec.index] = gateway.accepted
        if stop.is_set() or os.getppid() != parent:
            server.should_exit = True
        await asyncio.sleep(0.05)
    accepted[spec.index] = gateway.accepted
    votes.close()
    clock.close()
    serving.result()
