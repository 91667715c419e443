"""Does a receive cost the same with a backlog of a million as with ten?

Fills a SQLite queue to each backlog size, then times receive(10) + delete of the received
messages, and prints the median per size and its ratio to the smallest backlog.

    python benchmarks/queue_backlog.py [--sizes 10,10000,1000000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from votectl.local.queue import SqliteQueue

BODY = b'{"request_id":"r","votes":[{"user_id":"u","title_id":"t","aspect":"story","score":4}]}'


def fill(queue: SqliteQueue, count: int) -> None:
    chunk = 10_000
    for start in range(0, count, chunk):
        queue.send([BODY] * min(chunk, count - start))


def time_receives(queue: SqliteQueue, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        messages = queue.receive(10)
        queue.delete([m.receipt_handle for m in messages])
        samples.append(time.perf_counter() - started)
        queue.send([BODY] * len(messages))  # keep the backlog at its size
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000,1000000")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for size in sizes:
            queue = SqliteQueue(Path(tmp) / f"q{size}.db", "votes", visibility_timeout=3600)
            fill(queue, size)
            rows.append((size, time_receives(queue, args.rounds)))
            queue.close()
    base = rows[0][1]
    print(f"{'backlog':>10}  {'receive(10)+delete median':>26}  {'ratio':>6}")
    for size, median in rows:
        print(f"{size:>10,}  {median * 1e6:>23.0f} us  {median / base:>6.2f}")


if __name__ == "__main__":
    main()
