"""A fault soak of the local pipeline. Not a test, not in CI (it needs root for its tmpfs).

    python benchmarks/soak.py [--minutes 10] [--users 20] [--tmpfs-mb 512]

For ``--minutes``: Locust load (benchmarks/soak_locustfile.py: every vote a new identity, every
202 recorded) against `votectl up --chaos receiver=.. processor=.. writer=..` whose data dir is
on a small tmpfs, while this script
- kill -9s a random child (gateway, processor or writer) every 15-45 s,
- kill -9s the whole process group every 2-3 min and starts `votectl up` again on the same
  data dir and port,
- fills the disk to the last byte every 60-90 s and frees it 10-20 s later.
Then, after the load: drain, redrive the DLQs, drain again (until both are empty), stop, and
compare the table with the acknowledged identities, one by one. It prints its tallies and exits
1 if an acknowledged vote is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from votectl.local.layout import Layout  # noqa: E402
from votectl.local.ops import LocalOperations  # noqa: E402

CHAOS = ("receiver=0.02", "processor=0.05", "writer=0.05")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Pipeline:
    """`votectl up` in its own process group, restartable on the same data dir and port."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        chaos = [arg for c in CHAOS for arg in ("--chaos", c)]
        cmd = [sys.executable, "-m", "votectl", "up", "--quiet", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), "--visibility-timeout", "5", *chaos]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + 60
        while Layout.of(self.data_dir).running_url() is None:
            if self.proc.poll() is not None and time.monotonic() < deadline:
                time.sleep(1)  # it could not start (a full disk, say): again
                self.start()
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"soak: `votectl up` did not start; see {self.log}")
            time.sleep(0.1)

    def children(self) -> dict[str, int]:
        try:
            return dict(json.loads(Layout.of(self.data_dir).up_file.read_text())["processes"])
        except (OSError, ValueError, KeyError):
            return {}

    def kill_group(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill_group()
            return -9


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for block in (1 << 20, 4096, 1):  # to the last byte
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)
    return filler


def settle(pipeline: Pipeline, ops: LocalOperations, tallies: Counter[str]) -> float:
    """Drain, redrive, drain, until the queues and DLQs are empty; returns the seconds."""
    started = time.monotonic()
    quiet_since = None
    while time.monotonic() - started < 900:
        try:
            stats = ops.queue_stats()
        except Exception as exc:  # noqa: BLE001 - report, retry
            print(f"soak: queue stats failed: {exc}", file=sys.stderr)
            time.sleep(1)
            continue
        backlog = sum(q.visible + q.in_flight + q.delayed for q in stats if not q.dlq)
        dead = sum(q.visible + q.in_flight + q.delayed for q in stats if q.dlq)
        if backlog == 0 and dead:
            tallies["redriven"] += ops.redrive().moved
            tallies["redrives"] += 1
        if backlog == 0 and dead == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 2:
                return time.monotonic() - started
        else:
            quiet_since = None
        time.sleep(0.5)
    raise SystemExit("soak: the queues did not settle in 15 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--tmpfs-mb", type=int, default=512)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--pace", type=float, default=1.0, help="faults this many times as often")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="votectl-soak-"))
    disk, acks = work / "disk", work / "acks"
    disk.mkdir()
    acks.mkdir()
    size = f"size={args.tmpfs_mb}m"
    subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(disk)], check=True)
    tallies: Counter[str] = Counter()
    pipeline = Pipeline(disk / "data", free_port(), work / "up.log")
    filler: Path | None = None
    try:
        pipeline.start()
        url = f"http://127.0.0.1:{pipeline.port}"
        seconds = int(args.minutes * 60)
        locust = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(HERE / "soak_locustfile.py"),
                "--headless",
                "--host",
                url,
            ]
            + ["-u", str(args.users), "-r", str(args.users), "-t", f"{seconds}s"]
            + ["--only-summary", "--loglevel", "ERROR", "--stop-timeout", "10"],
            env={**os.environ, "SOAK_ACK_DIR": str(acks), "SOAK_RUN": work.name[-8:]},
            stdout=open(work / "locust.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        end = time.monotonic() + seconds
        next_child = time.monotonic() + rng.uniform(15, 45) / args.pace
        next_group = time.monotonic() + rng.uniform(120, 180) / args.pace
        next_fill = time.monotonic() + rng.uniform(60, 90) / args.pace
        free_at = 0.0
        while time.monotonic() < end and locust.poll() is None:
            now = time.monotonic()
            if now >= next_child:
                children = pipeline.children()
                if children:
                    label = rng.choice(sorted(children))
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(children[label], signal.SIGKILL)
                        tallies[f"kill -9 {label.split('-')[0]}"] += 1
                next_child = now + rng.uniform(15, 45) / args.pace
            if now >= next_group:
                pipeline.kill_group()
                tallies["kill -9 group"] += 1
                pipeline.start()
                next_group = now + rng.uniform(120, 180) / args.pace
            if filler is None and now >= next_fill:
                filler = fill(disk)
                tallies["disk filled"] += 1
                free_at = now + rng.uniform(10, 20) / args.pace
            if filler is not None and now >= free_at:
                filler.unlink()
                filler = None
                next_fill = now + rng.uniform(60, 90) / args.pace
            time.sleep(0.2)
        locust.wait(120)
        if filler is not None:
            filler.unlink()
            filler = None
        if pipeline.proc is None or pipeline.proc.poll() is not None:
            pipeline.start()
        ops = LocalOperations(str(pipeline.data_dir))
        drain_seconds = settle(pipeline, ops, tallies)
        tallies["exit code of the final SIGTERM"] = pipeline.stop()
        report(work, pipeline, tallies, drain_seconds, args.minutes)
    finally:
        if pipeline.proc is not None and pipeline.proc.poll() is None:
            pipeline.kill_group()
        if filler is not None:
            filler.unlink()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def report(
    work: Path, pipeline: Pipeline, tallies: Counter[str], drain_seconds: float, minutes: float
) -> None:
    acknowledged: set[str] = set()
    for path in (work / "acks").glob("*.acks"):
        acknowledged.update(path.read_text().split())
    answers: Counter[str] = Counter()
    for path in (work / "acks").glob("*.counts"):
        answers.update(json.loads(path.read_text()))
    table = sqlite3.connect(Layout.of(pipeline.data_dir).table_db)
    stored = {row[0] for row in table.execute("SELECT user_id FROM votes")}
    table.close()
    lost = acknowledged - stored
    unacknowledged = stored - acknowledged
    log_text = (work / "up.log").read_text(errors="replace")
    print(f"soak: {minutes:g} min, work dir {work}")
    rows = [
        ("requests answered 202", answers["202"]),
        ("requests answered 503 (chaos, full disk)", answers["503"]),
        ("requests with no answer (kills)", answers["0"]),
        (
            "requests answered otherwise",
            sum(n for k, n in answers.items() if k.isdigit())
            - answers["202"]
            - answers["503"]
            - answers["0"],
        ),
        ("votes sent", answers["votes_sent"]),
        ("distinct votes acknowledged", len(acknowledged)),
        ("votes stored", len(stored)),
        ("acknowledged, not stored (LOST)", len(lost)),
        ("stored, not acknowledged (answer lost to a kill)", len(unacknowledged)),
        ("`votectl up` starts", pipeline.starts),
        *sorted(tallies.items()),
        ("drain + redrive seconds", round(drain_seconds, 1)),
        ("tracebacks in the pipeline's log", log_text.count("Traceback")),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(
            f"  {name:<{width}}  {value:,}"
            if isinstance(value, int)
            else f"  {name:<{width}}  {value}"
        )
    if lost:
        print(f"soak: LOST {len(lost)} acknowledged votes, e.g. {sorted(lost)[:5]}")
        raise SystemExit(1)
    print("soak: stored == distinct acknowledged + answers lost to kills; 0 lost")


if __name__ == "__main__":
    main()
