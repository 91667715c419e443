"""`votectl up`: the local pipeline as processes on one machine, supervised.

    gateway process(es): httptools endpoint -> Gateway -> receiver -> group commit -> votes-queue.db
    processor process:   Poller(votes) -> processor -> ready-queue.db
    writer process:      Poller(ready) -> writer    -> votes-table.db

This process binds the socket, starts the children, restarts one that dies, reports status,
and owns the signals. SIGINT/SIGTERM: gateways stop accepting and answer what is in flight,
then each poller finishes its batch; exit 0. ``up.json`` in the data dir names the endpoint
while it runs; an ``flock`` on the data dir itself, held for the life of `votectl up`, keeps a
second one off it (deleting files cannot let one in); stopping removes only what this one wrote.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import multiprocessing
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from votectl.errors import PipelineFailed, UsageError
from votectl.local.auth import AuthSettings
from votectl.local.db import DamagedFile, check_intact, naming
from votectl.local.flags import Counters, Flag
from votectl.local.layout import Layout
from votectl.local.limits import Limits
from votectl.local.logfiles import child_main
from votectl.local.poller import DAMAGED_EXIT, PollerSpec, run_poller
from votectl.local.queue import SqliteQueue
from votectl.local.serve import GatewaySpec, run_gateway
from votectl.local.table import SqliteVoteTable

__all__ = ["UpSettings", "run_up"]

log = logging.getLogger("votectl.up")

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
    limits: Limits = field(default_factory=Limits)


@contextlib.contextmanager
def _exclusive(layout: Layout) -> Iterator[None]:
    fd = layout.create().lock()
    if fd is None:
        raise layout.taken()
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


class _Group:
    """Child processes of one kind: started, restarted if one dies, stopped together.

    Each child's output goes to <logs>/<label>.log (see local/logfiles.py). A child that dies
    within ``_SETTLED_SECONDS`` of its start is restarted after a pause that doubles up to
    ``_MAX_PAUSE_SECONDS`` (a full disk must not become a crash loop)."""

    _SETTLED_SECONDS = 10.0
    _MAX_PAUSE_SECONDS = 5.0

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
        self.stop_event = Flag(ctx)  # no lock: a child killed in wait() cannot wedge set()
        self.procs: list[Any] = [None] * len(args)
        self.started = [0.0] * len(args)
        self.pause = [0.0] * len(args)
        self.due = [0.0] * len(args)
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
            self.started[n] = time.monotonic()

    def watch(self) -> list[str]:
        """Restart the dead children that are due; one line for each death (which, exit code or
        signal, and when it restarts)."""
        said = []
        now = time.monotonic()
        for n, proc in enumerate(self.procs):
            if self.stop_event.is_set() or proc.is_alive():
                continue
            if not self.due[n]:  # just found dead: restart now, or after a pause if it was young
                lived = now - self.started[n]
                young = lived < self._SETTLED_SECONDS
                self.pause[n] = min(self.pause[n] * 2 or 0.25, self._MAX_PAUSE_SECONDS) * young
                self.due[n] = now + self.pause[n]
                died = f"{self.labels[n]} (pid {proc.pid}) {_how(proc.exitcode)}"
                said.append(
                    f"{died} {lived:.1f} s after starting; restarting in {self.pause[n]:.2g} s"
                    if young
                    else f"{died}; restarted"
                )
            if now >= self.due[n]:
                self.due[n] = 0.0
                self.restarts += 1
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
            with naming(path):
                SqliteQueue.create(path, name)  # before the children race to
        with naming(layout.table_db):
            SqliteVoteTable(layout.table_db).close()
        for path in layout.files():  # a damaged file stops us here, named, not mid-run
            check_intact(path)
        sock = _bind(settings.host, settings.port)
        stopping: list[int] = []
        handlers = {
            s: signal.signal(s, lambda sig, _: stopping.append(sig))
            for s in (signal.SIGINT, signal.SIGTERM)
        }
        ctx = multiprocessing.get_context("spawn")
        accepted = ctx.Array("q", settings.workers, lock=False)
        rejected = Counters(ctx, 2)  # a slot per poller
        ready = [Flag(ctx) for _ in range(settings.workers)]
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
                        auth=settings.auth,
                        workers=settings.workers,
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
            if not _write_up_file(layout, url, gateways, pollers):
                raise PipelineFailed(
                    f"cannot write {layout.up_file}", hint="free space in the data dir's disk"
                )
            if on_ready and not stopping:
                on_ready(url)
            _supervise(layout, url, gateways, pollers, accepted, rejected, stopping, status, notice)
        finally:
            gateways.stop(GATEWAY_GRACE_SECONDS)
            pollers.stop(POLLER_GRACE_SECONDS)
            sock.close()
            _remove_own_files(layout)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


def _remove_own_files(layout: Layout) -> None:
    """up.json and up-status.json, if this process wrote them (they name its pid)."""
    info = layout.up_info()
    if info is None or info.get("pid") == os.getpid():
        layout.up_file.unlink(missing_ok=True)
        layout.status_file.unlink(missing_ok=True)


def _await_ready(ready: list[Any], gateways: _Group, stopping: list[int]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not all(event.is_set() for event in ready) and not stopping:
        if any(p.exitcode is not None for p in gateways.procs):
            raise PipelineFailed("a gateway process exited while starting")
        if time.monotonic() > deadline:
            raise PipelineFailed("the gateway did not start listening in time")
        time.sleep(0.01)


def _write_up_file(layout: Layout, url: str, *groups: _Group, quiet: bool = False) -> bool:
    """up.json: the URL, the supervisor's pid, each child's, and how many children were
    restarted (rewritten after a restart).

    Replaced whole, never truncated in place; False (and a warning) if it could not be
    written, a full disk say: the pipeline runs on and the caller tries again later."""
    processes = {label: pid for group in groups for label, pid in group.pids().items()}
    restarts = sum(group.restarts for group in groups)
    info = {"url": url, "pid": os.getpid(), "processes": processes, "restarts": restarts}
    temporary = layout.up_file.with_suffix(".json.tmp")
    try:
        temporary.write_text(json.dumps(info))
        os.replace(temporary, layout.up_file)
    except OSError as exc:
        if not quiet:
            log.warning("cannot write %s (%s); trying again", layout.up_file, exc.strerror or exc)
        with contextlib.suppress(OSError):
            temporary.unlink()
        return False
    return True


def _stop_for_damage(layout: Layout) -> None:
    """A poller found a data file damaged: stop (no more 202s for votes that cannot be
    stored), naming the file. The queued votes stay in their files for after the repair."""
    for path in layout.files():
        check_intact(path)  # raises DamagedFile naming it
    raise DamagedFile(f"a file in {layout.root} is damaged (see the pollers' log lines above)")


def _write_status_file(layout: Layout, accepted: int) -> None:
    """The running accepted total for `votectl watch` (replaced whole: readers never see half).
    Best effort: a full disk leaves the last one in place until space returns."""
    tmp = layout.status_file.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps({"accepted": accepted, "at": time.time()}))
        tmp.replace(layout.status_file)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


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
    up_file_stale = False
    while not stopping:
        time.sleep(0.1)
        if DAMAGED_EXIT in (p.exitcode for p in pollers.procs):
            _stop_for_damage(layout)
        tally.total(accepted)  # before a restarted gateway's counter starts again at 0
        restarts = gateways.restarts + pollers.restarts
        died = gateways.watch() + pollers.watch()
        if gateways.restarts + pollers.restarts != restarts or up_file_stale:
            up_file_stale = not _write_up_file(layout, url, gateways, pollers, quiet=up_file_stale)
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
        try:
            queues = {q.name: q.visible + q.in_flight + q.delayed for q in ops.queue_stats()}
            stored = ops.table_count().count
        except (sqlite3.Error, OSError) as exc:  # a full disk, say: report again next second
            log.warning("status unavailable: %s", exc)
            continue
        status(
            {
                "accepted": total,
                "accepted_per_s": (total - last_accepted) / (now - last_time),
                "queues": queues,
                "stored": stored,
                "rejected": rejected.total(),
                "restarts": gateways.restarts + pollers.restarts,
            }
        )
        last_accepted, last_time = total, now
