"""Group commits racing a poller on one SQLite queue: throughput and commit latency.

A consumer process receives and deletes in batches of 1,000 while this process commits
batches of 30 messages, as the gateway's group commit does under load. Compares, in the same
run and alternating, votectl's lock wait (``Transaction`` polls the write lock every
50-1000 us) with SQLite's own busy handler; prints medians over the rounds.

    python benchmarks/group_commit_contention.py [--commits 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from votectl.local.queue import SqliteQueue

BODY = b'{"request_id":"r","votes":[{"user_id":"u","title_id":"t","aspect":"story","score":4}]}'
MODES = {"votectl lock polling": 0, "SQLite busy handler": 30_000}


def consume(path: str, busy_ms: int, stop: Any) -> None:
    queue = SqliteQueue(path, "votes")
    queue._con.execute(f"PRAGMA busy_timeout={busy_ms}")
    while not stop.is_set():
        messages = queue.receive(1000, wait_seconds=0.2)
        if messages:
            queue.delete([m.receipt_handle for m in messages])


def run(busy_ms: int, commits: int) -> tuple[float, float, float]:
    """(messages/s, p99 s, max s). busy_ms=0: votectl's polling; >0: SQLite's handler."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "q.db")
        queue = SqliteQueue(path, "votes")
        queue._con.execute(f"PRAGMA busy_timeout={busy_ms}")
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        consumer = ctx.Process(target=consume, args=(path, busy_ms, stop))
        consumer.start()
        queue.send([BODY])
        while queue.stats()[0].visible:  # the consumer is up once it took that message
            time.sleep(0.01)
        latencies = []
        started = time.perf_counter()
        for _ in range(commits):
            t = time.perf_counter()
            queue.send([BODY] * 30)
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        stop.set()
        consumer.join()
    latencies.sort()
    return commits * 30 / elapsed, latencies[int(len(latencies) * 0.99)], latencies[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in MODES}
    for _ in range(args.rounds):
        for name, busy_ms in MODES.items():
            results[name].append(run(busy_ms, args.commits))
    for name, rows in results.items():
        rate = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        worst = statistics.median(r[2] for r in rows)
        print(
            f"{name:22s} {rate:>10,.0f} msgs/s  p99 {p99 * 1e3:6.2f} ms  max {worst * 1e3:7.2f} ms"
        )


if __name__ == "__main__":
    main()
