"""Group commits racing a poller on one SQLite queue: throughput and commit latency.

A consumer process receives and deletes in batches of 1,000 while this process commits
batches of 30 messages (what the gateway's group commit does under load).

    python benchmarks/group_commit_contention.py
"""

import multiprocessing as mp
import os
import tempfile
import time

from votectl.local.queue import SqliteQueue

BODY = b'{"request_id":"r","votes":[{"user_id":"u","title_id":"t","aspect":"story","score":4}]}'


def consume(path, stop):
    q = SqliteQueue(path, "votes")
    while not stop.is_set():
        m = q.receive(1000, wait_seconds=0.2)
        if m:
            q.delete([x.receipt_handle for x in m])


if __name__ == "__main__":
    d = tempfile.mkdtemp()
    path = os.path.join(d, "q.db")
    q = SqliteQueue(path, "votes")
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    p = ctx.Process(target=consume, args=(path, stop))
    p.start()
    time.sleep(1)
    lat = []
    t0 = time.perf_counter()
    for i in range(3000):
        t = time.perf_counter()
        q.send([BODY] * 30)
        lat.append(time.perf_counter() - t)
    el = time.perf_counter() - t0
    stop.set()
    p.join()
    lat.sort()
    print(
        f"msgs/s {3000 * 30 / el:.0f} p50 {lat[len(lat) // 2] * 1e3:.2f}ms p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f}ms max {lat[-1] * 1e3:.2f}ms"
    )
