"""How long a client waits for its answer from `votectl up` with a consumer stopped, and with
the votes queue's lock held by something else. Not a test.

    python benchmarks/send_wait.py [--seconds 5] [--rounds 3] [--clients 8] [--workers N]

One `votectl up` (``--workers`` gateway processes; default: up's own), ``--clients`` threads
each posting single distinct votes over keep-alive as fast as they are answered, timing every
request from its write to its whole answer. Each round runs every kind for ``--seconds``, in an
order rotated by the round (interleaved: the machine's noise falls on all kinds alike):

- ``running``: the consumers running;
- ``processor`` / ``writer``: that consumer stopped (SIGSTOP) for the whole run, caught inside
  one of its own transactions (its state file's or the table's write lock held);
- ``inbox held``: another connection holds the votes queue inbox's write lock (BEGIN
  IMMEDIATE) for the whole run, as a stopped sender or a `sqlite3` shell would: every request
  waits out the gateway's send budget and gets a JSON 503.

Between runs the consumers go on and the queues drain. Prints, per kind, the answers by
status and the answer times (p50, p99, max; the max of each round), then whether every 202'd
vote is in the table (lost).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._stopped import consumer_files, stop_inside_a_transaction  # noqa: E402
from votectl.local.child import running_pipeline  # noqa: E402
from votectl.local.db import connect  # noqa: E402
from votectl.local.gateway import SEND_BUDGET_SECONDS  # noqa: E402
from votectl.local.layout import Layout  # noqa: E402
from votectl.local.ops import LocalOperations  # noqa: E402
from votectl.local.table import SqliteVoteTable  # noqa: E402
from votectl.operations import drain  # noqa: E402

KINDS = ("running", "processor", "writer", "inbox held")
CLIENT_TIMEOUT = 60.0  # far past any bound: a hang shows as a time, not as a lost request


def client(url: str, prefix: str, until: list[float], out: list[tuple[float, float, int]]) -> None:
    """Post single votes until ``until[0]`` (monotonic); (sent at, seconds, status) of each,
    status 0: no answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=CLIENT_TIMEOUT)
    headers = {"content-type": "application/json"}
    n = 0
    while time.monotonic() < until[0]:
        n += 1
        body = json.dumps(
            {"user_id": f"{prefix}-{n}", "title_id": "t", "aspect": "story", "score": 3}
        )
        began, started = time.monotonic(), time.perf_counter()
        try:
            conn.request("POST", "/votes", body, headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            status = 0
        out.append((began, time.perf_counter() - started, status))
    conn.close()


def one_run(
    url: str,
    data_dir: Path,
    kind: str,
    seconds: float,
    clients: int,
    tag: str,
    rng: random.Random,
) -> tuple[list[tuple[float, int]], int]:
    """(seconds, status) of the requests answered while ``kind``'s condition held (those in
    flight when it began too), and the 202s of the whole run. The clients start first (a
    consumer is caught inside a transaction only under load), then the condition is made and
    holds for ``seconds``."""
    pids = json.loads((data_dir / "up.json").read_text())["processes"]
    out: list[tuple[float, float, int]] = []
    until = [time.monotonic() + 60]
    threads = [
        threading.Thread(target=client, args=(url, f"{tag}-{i}", until, out))
        for i in range(clients)
    ]
    holder = None
    try:
        for thread in threads:
            thread.start()
        while len(out) < 20 * clients:  # under way
            if not any(t.is_alive() for t in threads):
                raise SystemExit(f"the clients stopped after {len(out)} answers: is up serving?")
            time.sleep(0.01)
        if kind in ("processor", "writer"):
            stop_inside_a_transaction(pids[kind], consumer_files(data_dir, kind), rng)
        elif kind == "inbox held":
            holder = connect(Layout.of(data_dir).votes_db, lock_wait=10)
            holder.execute("BEGIN IMMEDIATE")
        applied = time.monotonic()
        until[0] = applied + seconds
        for thread in threads:
            thread.join()
    finally:
        until[0] = 0.0
        if kind in ("processor", "writer"):
            os.kill(pids[kind], signal.SIGCONT)
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    return [(took, status) for began, took, status in out if began + took >= applied], sum(
        status == 202 for _, _, status in out
    )


def describe(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    if len(ms) < 2:
        return "no answers"
    q = statistics.quantiles(ms, n=100)
    return f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {ms[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="gateway processes (0: up's)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="a comma-separated subset")
    args = parser.parse_args()
    kinds = tuple(k for k in KINDS if k in args.kinds.split(","))
    results: dict[str, list[tuple[float, int]]] = {kind: [] for kind in kinds}
    maxima: dict[str, list[float]] = {kind: [] for kind in kinds}
    answered: dict[str, list[int]] = {kind: [] for kind in kinds}  # per round
    rng = random.Random(16)
    accepted = 0  # 202s of every run, the requests before each condition began included
    extra = ("--workers", str(args.workers)) if args.workers else ()
    with tempfile.TemporaryDirectory(prefix="votectl-send-wait-") as tmp:
        data_dir = Path(tmp) / "local"
        with running_pipeline(data_dir, *extra) as url:
            ops = LocalOperations(str(data_dir))
            for round_ in range(args.rounds):
                order = kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]
                for kind in order:
                    tag = f"r{round_}-{kind.replace(' ', '-')}"
                    run, ok = one_run(url, data_dir, kind, args.seconds, args.clients, tag, rng)
                    accepted += ok
                    results[kind] += run
                    maxima[kind].append(max((t for t, _ in run), default=0.0) * 1000)
                    answered[kind].append(len(run))
                    drain(ops, timeout=300)
            table = SqliteVoteTable(data_dir / "votes-table.db")
            stored = table.count()
            table.close()
    workers = args.workers or "up's default"
    print(
        f"votectl up (workers: {workers}), {args.clients} clients, {args.rounds} rounds of "
        f"{args.seconds:g} s per kind, interleaved; send budget {SEND_BUDGET_SECONDS:g} s"
    )
    for kind, answers in results.items():
        statuses = Counter(status for _, status in answers)
        counts = ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(statuses.items()))
        spread = ", ".join(f"{m:.0f}" for m in maxima[kind])
        times = [t for t, _ in answers]
        print(f"{kind:10s}: {counts}; {describe(times)} (max per round: {spread} ms)")
    if "running" in kinds:  # answers in the same time, against the same round's running
        for kind in (k for k in kinds if k in ("processor", "writer")):
            ratios = sorted(
                n / max(base, 1)
                for n, base in zip(answered[kind], answered["running"], strict=True)
            )
            print(
                f"{kind:10s}: answers/s {statistics.median(ratios):.2f}x of running "
                f"({ratios[0]:.2f}-{ratios[-1]:.2f})"
            )
    print(f"202s: {accepted}, stored: {stored}, lost: {accepted - stored}")


if __name__ == "__main__":
    main()
