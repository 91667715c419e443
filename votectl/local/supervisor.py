"""`votectl up`: the local pipeline as processes on one machine.

    this process:   uvicorn -> Gateway -> receiver -> GroupCommitQueue -> votes-queue.db
    child process:  Poller(votes)  -> processor -> ready-queue.db
    child process:  Poller(ready)  -> writer    -> votes-table.db

SIGINT/SIGTERM: stop accepting, answer the requests in flight, let each poller finish its
batch, exit 0. A poller that dies is restarted. ``up.json`` in the data dir names the
endpoint while it runs; ``up.lock`` keeps a second `votectl up` off the same data dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from lambdas import receiver
from votectl.errors import AlreadyRunning, PipelineFailed
from votectl.local.chaos import chaotic
from votectl.local.gateway import Gateway, GroupCommitQueue
from votectl.local.layout import Layout
from votectl.local.poller import PollerSpec, run_poller
from votectl.local.queue import SqliteQueue
from votectl.local.table import SqliteVoteTable

__all__ = ["UpSettings", "run_up"]

STOP_GRACE_SECONDS = 8.0


@dataclass(frozen=True)
class UpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = ".votectl/local"
    visibility_timeout: float = 30.0
    max_receive_count: int = 3
    chaos: dict[str, float] = field(default_factory=dict)
    batch_size: int = 1000


class _Server(uvicorn.Server):
    """uvicorn, minus re-raising the signal after shutdown: we exit 0 on SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        originals = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


@contextlib.contextmanager
def _exclusive(layout: Layout) -> Iterator[None]:
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock_file, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another `votectl up` is using {layout.root}") from None
        yield


class _Pollers:
    """The poller processes: started, watched (restarted if one dies), stopped."""

    def __init__(self, specs: list[PollerSpec]) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()
        self._specs = specs
        self._procs: dict[str, Any] = {}
        self.restarts = 0

    def start(self) -> None:
        for spec in self._specs:
            self._spawn(spec)

    def _spawn(self, spec: PollerSpec) -> None:
        proc = self._ctx.Process(target=run_poller, args=(spec, self._stop), name=spec.stage)
        proc.start()
        self._procs[spec.stage] = proc

    def watch(self) -> None:
        for spec in self._specs:
            if not self._stop.is_set() and not self._procs[spec.stage].is_alive():
                self.restarts += 1
                self._spawn(spec)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for proc in self._procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()


def _event_loop_policy() -> None:
    """uvloop where installed (it comes with uvicorn[standard]): about twice asyncio's rate."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PipelineFailed(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="pick another --port (0: any free one)",
        ) from None
    sock.set_inheritable(True)
    return sock


def run_up(
    settings: UpSettings,
    status: Callable[[dict[str, Any]], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the pipeline until SIGINT/SIGTERM. ``status`` gets a snapshot about once a second."""
    layout = Layout.of(settings.data_dir)
    with _exclusive(layout):
        votes = SqliteQueue(
            layout.votes_db, "votes", settings.visibility_timeout, settings.max_receive_count
        )
        SqliteQueue(layout.ready_db, "ready").close()  # create the files before the pollers race
        SqliteVoteTable(layout.table_db).close()
        pollers = _Pollers(
            [
                PollerSpec(
                    stage,
                    str(layout.root),
                    settings.visibility_timeout,
                    settings.max_receive_count,
                    settings.chaos.get(stage, 0.0),
                    settings.batch_size,
                )
                for stage in ("processor", "writer")
            ]
        )
        sock = _bind(settings.host, settings.port)
        pollers.start()
        try:
            _event_loop_policy()
            asyncio.run(_serve(settings, layout, votes, sock, pollers, status, on_ready))
        finally:
            pollers.stop(STOP_GRACE_SECONDS)
            layout.up_file.unlink(missing_ok=True)
            votes.close()


async def _serve(
    settings: UpSettings,
    layout: Layout,
    votes: SqliteQueue,
    sock: socket.socket,
    pollers: _Pollers,
    status: Callable[[dict[str, Any]], None] | None,
    on_ready: Callable[[str], None] | None,
) -> None:
    loop = asyncio.get_running_loop()
    queue = GroupCommitQueue(votes, loop)
    handler = chaotic("receiver", receiver.make_handler(queue), settings.chaos.get("receiver", 0.0))
    gateway = Gateway(handler, queue)
    config = uvicorn.Config(
        gateway,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
            raise PipelineFailed("the HTTP server stopped before it started")
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    layout.up_file.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    if on_ready:
        on_ready(url)
    watcher = threading.Thread(
        target=_watch, args=(layout, gateway, pollers, status, serving), daemon=True
    )
    watcher.start()
    await serving
    queue.close()


def _watch(
    layout: Layout,
    gateway: Gateway,
    pollers: _Pollers,
    status: Callable[[dict[str, Any]], None] | None,
    serving: asyncio.Task[None],
) -> None:
    """Once a second: restart dead pollers, report a status snapshot."""
    from votectl.local.ops import LocalOperations

    ops = LocalOperations(str(layout.root))
    last_accepted, last_time = 0, time.monotonic()
    while not serving.done():
        time.sleep(1.0)
        pollers.watch()
        if status is None:
            continue
        now = time.monotonic()
        accepted = gateway.accepted
        snapshot = {
            "accepted": accepted,
            "accepted_per_s": (accepted - last_accepted) / (now - last_time),
            "queues": {q.name: q.visible + q.in_flight + q.delayed for q in ops.queue_stats()},
            "stored": ops.table_count().count,
            "restarts": pollers.restarts,
        }
        last_accepted, last_time = accepted, now
        status(snapshot)
