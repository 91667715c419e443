"""`votectl up`: the local pipeline as processes on one machine, supervised.

    gateway process(es): uvicorn -> Gateway -> receiver -> group commit -> votes-queue.db
    processor process:   Poller(votes) -> processor -> ready-queue.db
    writer process:      Poller(ready) -> writer    -> votes-table.db

This process binds the socket, starts the children, restarts one that dies, reports status,
and owns the signals. SIGINT/SIGTERM: gateways stop accepting and answer what is in flight,
then each poller finishes its batch; exit 0. ``up.json`` in the data dir names the endpoint
while it runs; ``up.lock`` keeps a second `votectl up` off the same data dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from votectl.errors import AlreadyRunning, PipelineFailed
from votectl.local.layout import Layout
from votectl.local.limits import Limits
from votectl.local.poller import PollerSpec, run_poller
from votectl.local.queue import SqliteQueue
from votectl.local.serve import GatewaySpec, run_gateway
from votectl.local.table import SqliteVoteTable

__all__ = ["UpSettings", "run_up"]

GATEWAY_GRACE_SECONDS = 6.0
POLLER_GRACE_SECONDS = 3.0
READY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class UpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = ".votectl/local"
    visibility_timeout: float = 30.0
    max_receive_count: int = 3
    chaos: dict[str, float] = field(default_factory=dict)
    batch_size: int = 1000
    workers: int = 1
    limits: Limits = field(default_factory=Limits)


@contextlib.contextmanager
def _exclusive(layout: Layout) -> Iterator[None]:
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock_file, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another `votectl up` is using {layout.root}") from None
        yield


class _Group:
    """Child processes of one kind: started, restarted if one dies, stopped together."""

    def __init__(
        self, ctx: Any, labels: list[str], target: Callable[..., None], args: list[tuple[Any, ...]]
    ):
        self.ctx, self.labels, self.target, self.args = ctx, labels, target, args
        self.stop_event = ctx.Event()
        self.procs: list[Any] = [None] * len(args)
        self.restarts = 0

    def start(self, i: int | None = None) -> None:
        for n in range(len(self.args)) if i is None else [i]:
            proc = self.ctx.Process(
                target=self.target, args=(*self.args[n], self.stop_event), name=self.labels[n]
            )
            proc.start()
            self.procs[n] = proc

    def watch(self) -> None:
        for n, proc in enumerate(self.procs):
            if not self.stop_event.is_set() and not proc.is_alive():
                self.restarts += 1
                self.start(n)

    def pids(self) -> dict[str, int]:
        return {label: proc.pid for label, proc in zip(self.labels, self.procs, strict=True)}

    def stop(self, grace: float) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + grace
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PipelineFailed(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="pick another --port (0: any free one)",
        ) from None
    sock.listen(2048)
    return sock


def run_up(
    settings: UpSettings,
    status: Callable[[dict[str, Any]], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the pipeline until SIGINT/SIGTERM. ``status`` gets a snapshot about once a second."""
    layout = Layout.of(settings.data_dir)
    with _exclusive(layout):
        for path, name in ((layout.votes_db, "votes"), (layout.ready_db, "ready")):
            SqliteQueue.create(path, name)  # before the children race to
        SqliteVoteTable(layout.table_db).close()
        sock = _bind(settings.host, settings.port)
        stopping: list[int] = []
        handlers = {
            s: signal.signal(s, lambda sig, _: stopping.append(sig))
            for s in (signal.SIGINT, signal.SIGTERM)
        }
        ctx = multiprocessing.get_context("spawn")
        accepted = ctx.Array("q", settings.workers, lock=False)
        rejected = ctx.Value("q", 0)
        ready = [ctx.Event() for _ in range(settings.workers)]
        gateways = _Group(
            ctx,
            [f"gateway-{n}" for n in range(settings.workers)],
            run_gateway,
            [
                (
                    GatewaySpec(
                        str(layout.root),
                        n,
                        settings.chaos.get("receiver", 0.0),
                        settings.visibility_timeout,
                        settings.max_receive_count,
                        settings.limits,
                    ),
                    sock,
                    ready[n],
                    accepted,
                )
                for n in range(settings.workers)
            ],
        )
        pollers = _Group(
            ctx,
            ["processor", "writer"],
            run_poller,
            [
                (
                    PollerSpec(
                        stage,
                        str(layout.root),
                        settings.visibility_timeout,
                        settings.max_receive_count,
                        settings.chaos.get(stage, 0.0),
                        settings.batch_size,
                    ),
                    rejected,
                )
                for stage in ("processor", "writer")
            ],
        )
        try:
            pollers.start()
            gateways.start()
            _await_ready(ready, gateways, stopping)
            host, port = sock.getsockname()[:2]
            url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            _write_up_file(layout, url, gateways, pollers)
            if on_ready and not stopping:
                on_ready(url)
            _supervise(layout, url, gateways, pollers, accepted, rejected, stopping, status)
        finally:
            gateways.stop(GATEWAY_GRACE_SECONDS)
            pollers.stop(POLLER_GRACE_SECONDS)
            sock.close()
            layout.up_file.unlink(missing_ok=True)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


def _await_ready(ready: list[Any], gateways: _Group, stopping: list[int]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not all(event.is_set() for event in ready) and not stopping:
        if any(p.exitcode is not None for p in gateways.procs):
            raise PipelineFailed("a gateway process exited while starting")
        if time.monotonic() > deadline:
            raise PipelineFailed("the gateway did not start listening in time")
        time.sleep(0.01)


def _write_up_file(layout: Layout, url: str, *groups: _Group) -> None:
    """up.json: the URL, the supervisor's pid and each child's (rewritten after a restart)."""
    processes = {label: pid for group in groups for label, pid in group.pids().items()}
    info = {"url": url, "pid": os.getpid(), "processes": processes}
    layout.up_file.write_text(json.dumps(info))


def _supervise(
    layout: Layout,
    url: str,
    gateways: _Group,
    pollers: _Group,
    accepted: Any,
    rejected: Any,
    stopping: list[int],
    status: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Until a signal: restart dead children; once a second, report a status snapshot."""
    from votectl.local.ops import LocalOperations

    ops = LocalOperations(str(layout.root))
    last_accepted, last_time = 0, time.monotonic()
    while not stopping:
        time.sleep(0.1)
        restarts = gateways.restarts + pollers.restarts
        gateways.watch()
        pollers.watch()
        if gateways.restarts + pollers.restarts != restarts:
            _write_up_file(layout, url, gateways, pollers)
        now = time.monotonic()
        if status is None or now - last_time < 1.0:
            continue
        total = sum(accepted)
        status(
            {
                "accepted": total,
                "accepted_per_s": (total - last_accepted) / (now - last_time),
                "queues": {q.name: q.visible + q.in_flight + q.delayed for q in ops.queue_stats()},
                "stored": ops.table_count().count,
                "rejected": rejected.value,
                "restarts": gateways.restarts + pollers.restarts,
            }
        )
        last_accepted, last_time = total, now
