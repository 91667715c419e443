"""Votes/s of the pipeline against the machine's ceiling and a moto baseline. Not a test.

    python benchmarks/pipeline.py [--seconds 5] [--runs 3] [--connections 64] [--rows ...]

One load generator for every row (wrk + benchmarks/votes.lua, distinct votes; single votes and
batches of 500). The rows take turns, ``--runs`` rounds, and medians are printed, with the
local/ceiling ratio of each round (the two ran back to back, on the same machine state):

1. ceiling: a bare ASGI app (uvicorn, httptools + uvloop, as many processes as `votectl up`
   runs gateways) that reads the body and answers 202;
2. local:   a real `votectl up`; persisted votes/s = accepted / (load + drain), nothing lost;
3. local-jwt: the same with `--auth jwt` (dev secret): every request carries a bearer token the
   gateway verifies, and votes carry no user_id (the token's sub fills it); its ratio to
   `local` is printed run by run;
   local-more: `votectl up --workers` ``--more-workers`` (2), its ratio to `local` run by run;
4. moto:    the same handlers over SQS + DynamoDB on a moto server (the common Python baseline).

Traffic goes to 127.0.0.1 only. Runtime is bounded: about runs x rows x (seconds + drain).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from votectl.local.auth import dev_secret, mint, read_secret  # noqa: E402
from votectl.local.child import running_pipeline, stop  # noqa: E402
from votectl.local.ops import LocalOperations  # noqa: E402
from votectl.operations import drain  # noqa: E402

BATCH = 500


@dataclass(frozen=True)
class Load:
    requests: int  # completed
    rejected: int  # non-2xx
    errors: int  # socket errors
    seconds: float
    p50_ms: float
    p99_ms: float

    def votes(self, per_request: int) -> int:
        return (self.requests - self.rejected) * per_request


@dataclass(frozen=True)
class Sample:
    votes_per_s: float  # persisted (rows 2, 3) or answered (row 1)
    accepted: int
    stored: int | None
    drain_s: float
    p99_ms: float

    @property
    def lost(self) -> int:
        return 0 if self.stored is None else max(0, self.accepted - self.stored)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(
    url: str,
    seconds: float,
    connections: int,
    per_request: int,
    run_id: str,
    tokens: tuple[str, ...] = (),
) -> Load:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(HERE / "votes.lua"),
        url,
        "--",
        run_id,
        str(per_request),
        *tokens,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    d = json.loads(line[4:])
    errors = d["connect"] + d["read"] + d["write"] + d["timeout"]
    return Load(
        d["requests"],
        d["status"],
        errors,
        d["duration_us"] / 1e6,
        d["p50_us"] / 1000,
        d["p99_us"] / 1000,
    )


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port} after {timeout}s")


@contextmanager
def server(
    args: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``python ARGS`` listening on ``port``; stopped after."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, proc)
        yield proc
    finally:
        stop(proc, grace=10)


@contextmanager
def child(args: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """``server``, as its URL."""
    with server(args, port, env):
        yield f"http://127.0.0.1:{port}"


def ceiling_args(port: int) -> list[str]:
    """The ceiling server, as many processes as `votectl up` runs gateways: the same server,
    minus the pipeline."""
    return [str(HERE / "_servers.py"), "ceiling", str(port), WORKERS[1]]


# --- the rows -----------------------------------------------------------------------------------


def ceiling(seconds: float, connections: int, per_request: int) -> Sample:
    port = free_port()
    with child(ceiling_args(port), port) as url:
        load = wrk(url, seconds, connections, per_request, os.urandom(4).hex())
    votes = load.votes(per_request)
    return Sample(votes / load.seconds, votes, None, 0.0, load.p99_ms)


WORKERS = ["--workers", "1"]


def local(
    seconds: float,
    connections: int,
    per_request: int,
    auth: bool = False,
    workers: list[str] = WORKERS,
) -> Sample:
    with tempfile.TemporaryDirectory(prefix="votectl-bench-") as tmp:
        data_dir = Path(tmp) / "local"
        extra = ("--auth", "jwt") if auth else ()
        with running_pipeline(data_dir, *workers, *extra) as url:
            secret = read_secret(dev_secret(data_dir)) if auth else b""
            tokens = tuple(mint(secret, f"bench-{n}", 3600) for n in range(2)) if auth else ()
            load = wrk(url, seconds, connections, per_request, os.urandom(4).hex(), tokens)
            ops = LocalOperations(str(data_dir))
            drain_s = drain(ops, timeout=300)
            stored = ops.table_count(exact=True).count
    votes = load.votes(per_request)
    return Sample(votes / (load.seconds + drain_s), votes, stored, drain_s, load.p99_ms)


def moto(seconds: float, connections: int, per_request: int) -> Sample:
    import boto3

    moto_port, port = free_port(), free_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    os.environ.update(env)
    with child(["-m", "moto.server", "-p", str(moto_port)], moto_port):
        endpoint = f"http://127.0.0.1:{moto_port}"
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        ddb = boto3.client("dynamodb", endpoint_url=endpoint)
        urls = {n: sqs.create_queue(QueueName=n)["QueueUrl"] for n in ("votes", "ready")}
        ddb.create_table(
            TableName="votes",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        env |= {
            "MOTO_URL": endpoint,
            "VOTES_QUEUE_URL": urls["votes"],
            "READY_QUEUE_URL": urls["ready"],
            "TABLE_NAME": "votes",
            "PYTHONPATH": str(HERE.parent),
        }
        with child([str(HERE / "_servers.py"), "moto", str(port)], port, env) as url:
            load = wrk(url, seconds, connections, per_request, os.urandom(4).hex())
            drain_s = _drain_sqs(sqs, list(urls.values()), timeout=120)
        stored = _count(ddb)
    votes = load.votes(per_request)
    return Sample(votes / (load.seconds + drain_s), votes, stored, drain_s, load.p99_ms)


def _drain_sqs(sqs: Any, urls: list[str], timeout: float) -> float:
    start = time.monotonic()
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() - start < timeout:
        attributes = [
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            for url in urls
        ]
        if sum(int(v) for a in attributes for v in a.values()) == 0:
            return time.monotonic() - start
        time.sleep(0.1)
    return float("inf")


def _count(ddb: Any) -> int:
    pages = ddb.get_paginator("scan").paginate(TableName="votes", Select="COUNT")
    return sum(page["Count"] for page in pages)


def local_jwt(seconds: float, connections: int, per_request: int) -> Sample:
    return local(seconds, connections, per_request, auth=True)


MORE_WORKERS = ["--workers", "2"]


def local_more(seconds: float, connections: int, per_request: int) -> Sample:
    """`votectl up` with ``--more-workers`` gateways (compared with the `local` row's)."""
    return local(seconds, connections, per_request, workers=MORE_WORKERS)


ROWS: dict[str, Callable[[float, int, int], Sample]] = {
    "ceiling": ceiling,
    "local": local,
    "local-jwt": local_jwt,
    "local-more": local_more,
    "moto": moto,
}
# (row, baseline): their ratio is printed run by run, the two having run back to back
PAIRS = (("local", "ceiling"), ("local-jwt", "local"), ("local-more", "local"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load time per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rows", default="ceiling,local,local-jwt,moto")
    parser.add_argument("--moto-runs", type=int, default=1, help="runs of the slow moto row")
    parser.add_argument("--workers", type=int, default=1, help="`votectl up --workers` (local)")
    parser.add_argument(
        "--more-workers", type=int, default=2, help="`votectl up --workers` (local-more)"
    )
    parser.add_argument("--sizes", default=f"1,{BATCH}", help="votes per request to run")
    args = parser.parse_args()
    WORKERS[1] = str(args.workers)
    MORE_WORKERS[1] = str(args.more_workers)
    rows = args.rows.split(",")
    sizes = [int(n) for n in args.sizes.split(",")]
    medians: dict[tuple[str, int], float] = {}
    paired: dict[tuple[str, str, int], list[float]] = {}
    print(f"{'row':<9} {'votes/req':>9} {'votes/s (median)':>17} {'runs':>30}  lost  drain  p99")
    for per_request in sizes:
        # Rows take turns run by run, so a shared machine's drift falls on all rows alike.
        samples: dict[str, list[Sample]] = {row: [] for row in rows}
        for run in range(args.runs):
            for row in rows:
                if row == "moto" and (per_request == BATCH or run >= args.moto_runs):
                    continue  # minutes per run on moto; the single-vote row makes the point
                samples[row].append(ROWS[row](args.seconds, args.connections, per_request))
            for row, base in PAIRS:
                if {row, base} <= set(rows):
                    pair = samples[row][-1].votes_per_s / samples[base][-1].votes_per_s
                    paired.setdefault((row, base, per_request), []).append(pair)
        for row, got in samples.items():
            if not got:
                continue
            median = statistics.median(s.votes_per_s for s in got)
            medians[row, per_request] = median
            each = ", ".join(f"{s.votes_per_s:,.0f}" for s in got)
            print(
                f"{row:<9} {per_request:>9} {median:>17,.0f} {each:>30}"
                f"  {sum(s.lost for s in got):>4}"
                f"  {statistics.median(s.drain_s for s in got):5.2f}s"
                f"  {statistics.median(s.p99_ms for s in got):.1f}ms",
                flush=True,
            )
    for per_request in sizes:
        for row, other in (*PAIRS, ("local", "moto")):
            if medians.get((row, per_request)) and medians.get((other, per_request)):
                ratio = medians[row, per_request] / medians[other, per_request]
                print(f"{row} / {other} ({per_request} vote(s)/request): {ratio:.2f}x", end="")
                pairs = paired.get((row, other, per_request))
                if pairs:
                    each = ", ".join(f"{r:.2f}" for r in pairs)
                    print(f"; run by run {each} (median {statistics.median(pairs):.2f}x)", end="")
                print()


if __name__ == "__main__":
    main()
