"""`votectl demo`: the whole pipeline, end to end, in a temporary data dir.

Start `votectl up` as a child process, drive a few seconds of distinct single votes at it,
wait for the queues to drain, and check that every distinct vote accepted was stored.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from votectl.errors import PipelineFailed
from votectl.local.layout import Layout
from votectl.local.ops import LocalOperations
from votectl.model import Results

__all__ = ["DemoResult", "LoadOutcome", "drain", "drive_votes", "run_demo", "running_pipeline"]

ASPECTS = ("overall", "story", "acting", "visuals", "sound")
TITLES = [f"title-{i:03d}" for i in range(1, 21)]


@dataclass(frozen=True)
class LoadOutcome:
    requests: int
    accepted: int  # distinct votes acknowledged with 202
    errors: int
    seconds: float


@dataclass(frozen=True)
class DemoResult:
    load: LoadOutcome
    stored: int
    drain_seconds: float
    top_title: Results

    @property
    def votes_per_second(self) -> float:
        return self.load.accepted / (self.load.seconds + self.drain_seconds)

    @property
    def lost(self) -> int:
        return self.load.accepted - self.stored


def _wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise PipelineFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def running_pipeline(data_dir: Path, *extra: str, timeout: float = 30.0) -> Iterator[str]:
    """A `votectl up` child process on a free port; yields its URL, stops it with SIGTERM."""
    layout = Layout.of(data_dir)
    cmd = [
        sys.executable,
        "-m",
        "votectl",
        "up",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--quiet",
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise PipelineFailed(
                    f"`votectl up` exited: {(proc.stderr.read() if proc.stderr else '').strip()}"
                )
            return layout.running_url() is not None

        _wait_for(ready, timeout, "`votectl up` to listen")
        yield layout.running_url() or ""
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def drain(ops: LocalOperations, timeout: float = 120.0) -> float:
    """Wait until the votes and ready queues hold nothing; returns the seconds it took."""
    start = time.monotonic()

    def empty() -> bool:
        return all(q.visible + q.in_flight + q.delayed == 0 for q in ops.queue_stats() if not q.dlq)

    _wait_for(empty, timeout, "the queues to drain", interval=0.02)
    return time.monotonic() - start


def drive_votes(url: str, seconds: float, concurrency: int = 32, seed: int = 7) -> LoadOutcome:
    """POST distinct single votes from ``concurrency`` connections for ``seconds``."""
    return asyncio.run(_drive(url, seconds, concurrency, seed))


async def _drive(url: str, seconds: float, concurrency: int, seed: int) -> LoadOutcome:
    rng = random.Random(seed)
    run = os.urandom(3).hex()
    counter = itertools.count()
    accepted = requests = errors = 0
    deadline = time.monotonic() + seconds
    start = time.monotonic()

    async def voter(client: httpx.AsyncClient) -> None:
        nonlocal accepted, requests, errors
        while time.monotonic() < deadline:
            vote = {
                "user_id": f"demo-{run}-{next(counter)}",
                "title_id": rng.choice(TITLES),
                "aspect": rng.choice(ASPECTS),
                "score": rng.randint(1, 5),
            }
            requests += 1
            try:
                response = await client.post("/votes", json=vote)
            except httpx.HTTPError:
                errors += 1
                continue
            if response.status_code == 202:
                accepted += 1
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:
        await asyncio.gather(*(voter(client) for _ in range(concurrency)))
    return LoadOutcome(requests, accepted, errors, time.monotonic() - start)


def run_demo(
    seconds: float = 5.0,
    drive: Callable[[str, float], LoadOutcome] = drive_votes,
    progress: Callable[[str], None] = lambda _: None,
) -> DemoResult:
    with tempfile.TemporaryDirectory(prefix="votectl-demo-") as tmp:
        data_dir = Path(tmp) / "local"
        progress("starting the local pipeline")
        with running_pipeline(data_dir) as url:
            ops = LocalOperations(str(data_dir))
            progress(f"driving {seconds:g}s of votes at {url}")
            load = drive(url, seconds)
            progress(f"{load.accepted} votes accepted; waiting for the queues to drain")
            drain_seconds = drain(ops)
            stored = ops.table_count().count
            counts: dict[str, int] = {}
            for title in TITLES:
                counts[title] = sum(a.votes for a in ops.results(title).aspects.values())
            top = ops.results(max(counts, key=lambda t: counts[t]))
        return DemoResult(load=load, stored=stored, drain_seconds=drain_seconds, top_title=top)
