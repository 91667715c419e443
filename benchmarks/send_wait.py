"""How long a send waits for the inbox's lock, with consumers running and with a consumer
stopped (SIGSTOP) at random moments. Not a test.

    python benchmarks/send_wait.py [--seconds 10] [--senders 2] [--rounds 3]

``--senders`` processes send single 200-byte messages as fast as they can, each opened as the
gateway opens the votes queue (``lock_wait=0``: ``Locked`` at once, retried after 50 us to
1 ms, as the gateway's group commit does); one consumer process receives and deletes in
batches of 1,000. Each sender times every send from the first try to the commit (the reclaim
and WAL truncation the sends do included). Rounds alternate: consumer running, consumer
stopped for 0-200 ms at random moments; the percentiles of each kind are printed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from votectl.local.db import Locked  # noqa: E402
from votectl.local.queue import SqliteQueue  # noqa: E402

BODY = b"v" * 200


def sender(path: str, seconds: float, out: Any) -> None:
    queue = SqliteQueue(path, "votes", lock_wait=0, checkpoints=False)
    waits: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        pause = 0.00005
        while True:
            try:
                queue.send([BODY])
                break
            except Locked:
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
        waits.append(time.perf_counter() - started)
    out.put(waits)


def consumer(path: str) -> None:
    queue = SqliteQueue(path, "votes", visibility_timeout=30)
    while True:
        batch = queue.receive(1000, wait_seconds=0.5)
        queue.delete([m.receipt_handle for m in batch])


def one_round(seconds: float, senders: int, stop: bool, tmp: Path) -> list[float]:
    path = str(Path(tempfile.mkdtemp(dir=tmp)) / "votes-queue.db")
    SqliteQueue.create(path, "votes")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    reader = ctx.Process(target=consumer, args=(path,), daemon=True)
    reader.start()
    procs = [ctx.Process(target=sender, args=(path, seconds, out)) for _ in range(senders)]
    for p in procs:
        p.start()
    rng = random.Random(16)
    end = time.monotonic() + seconds
    while stop and time.monotonic() < end:
        time.sleep(rng.uniform(0, 0.1))
        assert reader.pid is not None
        os.kill(reader.pid, signal.SIGSTOP)
        time.sleep(rng.uniform(0, 0.2))
        os.kill(reader.pid, signal.SIGCONT)
    waits = [w for _ in procs for w in out.get(timeout=seconds + 60)]
    for p in procs:
        p.join()
    reader.kill()
    return waits


def describe(waits: list[float]) -> str:
    ms = sorted(w * 1000 for w in waits)
    q = statistics.quantiles(ms, n=1000)
    return (
        f"{len(ms)} sends: p50 {q[499]:.3f} ms, p99 {q[989]:.3f} ms, "
        f"p99.9 {q[998]:.3f} ms, max {ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"running": [], "stopped": []}
    maxima: dict[str, list[float]] = {"running": [], "stopped": []}
    with tempfile.TemporaryDirectory(prefix="votectl-send-") as name:
        for _ in range(args.rounds):
            for kind in results:
                waits = one_round(args.seconds, args.senders, kind == "stopped", Path(name))
                results[kind] += waits
                maxima[kind].append(max(waits) * 1000)
    for kind, waits in results.items():
        spread = ", ".join(f"{m:.1f}" for m in maxima[kind])
        print(f"consumer {kind:8s}: {describe(waits)} (max per round: {spread} ms)")


if __name__ == "__main__":
    main()
