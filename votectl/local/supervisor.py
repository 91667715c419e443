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
import errno
import fcntl
import json
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from votectl.errors import AlreadyRunning, PipelineFailed, UsageError
from votectl.local.auth import AuthSettings
from votectl.local.layout import Layout
from votectl.local.logfiles import child_main
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
    auth: AuthSettings = AuthSettings()


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
    """Child processes of one kind: started, restarted if one dies, stopped together.
    Each child's output goes to <logs>/<label>.log (see local/logfiles.py)."""

    def __init__(
        self,
        ctx: Any,
        labels: list[str],
        target: Callable[..., None],
        args: list[tuple[Any, ...]],
        logs: Path,
    ):
        self.ctx, self.labels, self.target, self.args = ctx, labels, target, args
        self.logs = logs
        self.stop_event = ctx.Event()
        self.procs: list[Any] = [None] * len(args)
        self.restarts = 0

    def start(self, i: int | None = None) -> None:
        for n in range(len(self.args)) if i is None else [i]:
            log = str(self.logs / f"{self.labels[n]}.log")
            proc = self.ctx.Process(
                target=child_main,
                args=(log, self.target, *self.args[n], self.stop_event),
                name=self.labels[n],
            )
            proc.start()
            self.procs[n] = proc

    def watch(self) -> list[str]:
        """Restart the children that died; one line for each (which, exit code or signal)."""
        said = []
        for n, proc in enumerate(self.procs):
            if not self.stop_event.is_set() and not proc.is_alive():
                self.restarts += 1
                said.append(f"{self.labels[n]} (pid {proc.pid}) {_how(proc.exitcode)}; restarted")
                self.start(n)
        return said

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


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode}"


class _Tally:
    """A running total over per-gateway counters that restart at 0 with their process."""

    def __init__(self) -> None:
        self.carried = 0
        self.last: list[int] = []

    def total(self, counters: Any) -> int:
        now = list(counters)
        for before, value in zip(self.last, now, strict=False):
            if value < before:  # that gateway restarted: keep what it had counted
                self.carried += before
        self.last = now
        return self.carried + sum(now)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        # a taken port is the moment's trouble (exit 1); a host that is not ours, a usage error
        error = PipelineFailed if exc.errno in (errno.EADDRINUSE, errno.EACCES) else UsageError
        raise error(
            f"cannot listen on {host}:{port}: {exc.strerror}", hint=_bind_hint(exc)
        ) from None
    sock.listen(2048)
    return sock


def _bind_hint(exc: OSError) -> str:
    """The flag to change: the port when it is taken or reserved, else the host."""
    if exc.errno == errno.EADDRINUSE:
        return "pick another --port (0: any free one)"
    if exc.errno == errno.EACCES:
        return "ports below 1024 need privileges: pick another --port (0: any free one)"
    return "--host must be an address of this machine (127.0.0.1, ::1, or 0.0.0.0 for all)"


def run_up(
    settings: UpSettings,
    status: Callable[[dict[str, Any]], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> None:
    """Run the pipeline until SIGINT/SIGTERM. ``status`` gets a snapshot about once a second;
    ``notice`` a line when a child dies and is restarted."""
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
                        auth=settings.auth,
                    ),
                    sock,
                    ready[n],
                    accepted,
                )
                for n in range(settings.workers)
            ],
            layout.logs_dir,
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
            layout.logs_dir,
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
            _supervise(layout, url, gateways, pollers, accepted, rejected, stopping, status, notice)
        finally:
            gateways.stop(GATEWAY_GRACE_SECONDS)
            pollers.stop(POLLER_GRACE_SECONDS)
            sock.close()
            layout.up_file.unlink(missing_ok=True)
            layout.status_file.unlink(missing_ok=True)
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
    """up.json: the URL, the supervisor's pid, each child's, and how many children were
    restarted (rewritten after a restart)."""
    processes = {label: pid for group in groups for label, pid in group.pids().items()}
    restarts = sum(group.restarts for group in groups)
    info = {"url": url, "pid": os.getpid(), "processes": processes, "restarts": restarts}
    layout.up_file.write_text(json.dumps(info))


def _write_status_file(layout: Layout, accepted: int) -> None:
    """The running accepted total for `votectl watch` (replaced whole: readers never see half)."""
    tmp = layout.status_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"accepted": accepted, "at": time.time()}))
    tmp.replace(layout.status_file)


def _supervise(
    layout: Layout,
    url: str,
    gateways: _Group,
    pollers: _Group,
    accepted: Any,
    rejected: Any,
    stopping: list[int],
    status: Callable[[dict[str, Any]], None] | None,
    notice: Callable[[str], None] | None = None,
) -> None:
    """Until a signal: restart dead children; once a second, report a status snapshot."""
    from votectl.local.ops import LocalOperations

    ops = LocalOperations(str(layout.root))
    tally = _Tally()
    last_accepted, last_time = 0, time.monotonic()
    while not stopping:
        time.sleep(0.1)
        tally.total(accepted)  # before a restarted gateway's counter starts again at 0
        died = gateways.watch() + pollers.watch()
        if died:
            _write_up_file(layout, url, gateways, pollers)
        if notice is not None:
            for line in died:
                notice(line)
        now = time.monotonic()
        if now - last_time < 1.0:
            continue
        total = tally.total(accepted)
        _write_status_file(layout, total)
        if status is None:
            last_accepted, last_time = total, now
            continue
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
