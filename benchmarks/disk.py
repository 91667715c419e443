"""The data dir's size under continuous load, and how long a stopped consumer delays senders.
Not a test.

    python benchmarks/disk.py [--seconds 15] [--connections 32] [--stop none|processor|writer]

Runs a real `votectl up` and wrk (benchmarks/votes.lua, single distinct votes) for
``--seconds``, sampling every 0.25 s the data dir's bytes, its WAL files' bytes and the votes
stored. Prints the largest excess over the bound docs/storage.md states (300 B per stored vote
+ 48 MiB), the largest WAL, and, once the load stops and the queues drain, the WAL files'
sizes. With ``--stop``, that consumer is stopped (SIGSTOP) from the first third of the load
to the last, and wrk's slowest answer and its status counts say how long senders waited.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from votectl.local.child import running_pipeline  # noqa: E402
from votectl.local.ops import LocalOperations  # noqa: E402
from votectl.local.table import SqliteVoteTable  # noqa: E402
from votectl.operations import drain  # noqa: E402

MiB = 1024 * 1024
PER_VOTE = 300
FIXED = 48 * MiB


@dataclass(frozen=True)
class Sample:
    at: float
    total: int
    wal: int
    stored: int

    @property
    def excess(self) -> int:
        """Bytes over the bound (negative: under it)."""
        return self.total - (PER_VOTE * self.stored + FIXED)


def sizes(data_dir: Path) -> tuple[int, int, dict[str, int]]:
    files = {p.name: p.stat().st_size for p in data_dir.iterdir() if p.is_file()}
    wals = {n: s for n, s in files.items() if n.endswith("-wal")}
    return sum(files.values()), sum(wals.values()), wals


def stored(table: SqliteVoteTable) -> int:
    return table.count()


def wrk(url: str, seconds: float, connections: int) -> str:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    cmd += ["--latency", "-s", str(HERE / "votes.lua"), url, "--", os.urandom(4).hex(), "1"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90).stdout


def wrk_figures(out: str) -> dict[str, object]:
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    summary = json.loads(line[4:])
    latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": summary["requests"],
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(summary[k] for k in ("connect", "read", "write", "timeout")),
        "p99_ms": summary["p99_us"] / 1000,
        "max_latency": latency.group(1) if latency else "?",
    }


def run(seconds: float, connections: int, stop: str) -> None:
    with tempfile.TemporaryDirectory(prefix="votectl-disk-") as tmp:
        data_dir = Path(tmp) / "local"
        with running_pipeline(data_dir) as url:
            processes = json.loads((data_dir / "up.json").read_text())["processes"]
            table = SqliteVoteTable(data_dir / "votes-table.db")
            out: list[str] = []
            load = threading.Thread(target=lambda: out.append(wrk(url, seconds, connections)))
            started = time.monotonic()
            load.start()
            samples: list[Sample] = []
            stopped = False
            while load.is_alive():
                at = time.monotonic() - started
                if stop != "none" and not stopped and seconds / 3 <= at < 2 * seconds / 3:
                    os.kill(processes[stop], signal.SIGSTOP)
                    stopped = True
                if stopped and at >= 2 * seconds / 3:
                    os.kill(processes[stop], signal.SIGCONT)
                    stopped = False
                total, wal, _ = sizes(data_dir)
                samples.append(Sample(at, total, wal, stored(table)))
                time.sleep(0.25)
            if stopped:
                os.kill(processes[stop], signal.SIGCONT)
            load.join()
            ops = LocalOperations(str(data_dir))
            drain_s = drain(ops, timeout=300)
            time.sleep(2.5)  # the idle consumers' WAL truncation runs once a second
            total, wal, wals = sizes(data_dir)
            final = Sample(time.monotonic() - started, total, wal, stored(table))
            table.close()
    figures = wrk_figures(out[0])
    worst = max(samples, key=lambda s: s.excess)
    print(f"load: {seconds:g} s, wrk -c{connections}, single votes, stop={stop}")
    print(f"wrk: {json.dumps(figures)}")
    print(
        f"during load ({len(samples)} samples): largest excess over 300 B/vote + 48 MiB: "
        f"{worst.excess / MiB:+.1f} MiB (at {worst.at:.1f} s: {worst.total / MiB:.1f} MiB, "
        f"{worst.stored} votes stored); largest WAL total "
        f"{max(s.wal for s in samples) / MiB:.1f} MiB; largest data dir "
        f"{max(s.total for s in samples) / MiB:.1f} MiB"
    )
    print(
        f"after load and drain ({drain_s:.1f} s): {final.stored} votes, data dir "
        f"{final.total / MiB:.1f} MiB = {final.total / max(final.stored, 1):.0f} B/vote; "
        f"WAL files: " + ", ".join(f"{n} {s / MiB:.2f} MiB" for n, s in sorted(wals.items()))
    )
    print(
        "within bound: "
        + ("yes" if worst.excess <= 0 and final.excess <= 0 and final.wal < 32 * MiB else "NO")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stop", choices=("none", "processor", "writer"), default="none")
    args = parser.parse_args()
    run(args.seconds, args.connections, args.stop)


if __name__ == "__main__":
    main()
