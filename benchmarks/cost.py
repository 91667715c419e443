"""CPU time per request of each `votectl up` process, under the benchmark's load. Not a test.

    python benchmarks/cost.py [--seconds 6] [--runs 3] [--connections 64]

Runs `votectl up`, drives it with wrk exactly as pipeline.py's single-vote row does, and reads
each process's CPU time (user + system, from /proc; Linux only) before the load and after the
drain. Prints, per process (up.json names them), the median microseconds of CPU per request:
where a persisted vote's cost goes. CPU time per request moves much less than throughput on a
shared machine, so it is the figure to compare before and after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pipeline import wrk  # noqa: E402

from votectl.local.child import running_pipeline  # noqa: E402
from votectl.local.ops import LocalOperations  # noqa: E402
from votectl.operations import drain  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def one_run(seconds: float, connections: int) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="votectl-cost-") as tmp:
        data_dir = Path(tmp) / "local"
        with running_pipeline(data_dir) as url:
            processes = json.loads((data_dir / "up.json").read_text())["processes"]
            before = {name: cpu_seconds(pid) for name, pid in processes.items()}
            load = wrk(url, seconds, connections, 1, os.urandom(4).hex())
            drain(LocalOperations(str(data_dir)), timeout=300)
            after = {name: cpu_seconds(pid) for name, pid in processes.items()}
    per_request = {name: (after[name] - before[name]) / load.requests * 1e6 for name in before}
    return load.requests / load.seconds, per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    runs = [one_run(args.seconds, args.connections) for _ in range(args.runs)]
    names = sorted(runs[0][1], key=lambda n: (n.startswith("gateway"), n))
    print(f"{'process':<12} {'CPU us/request (median)':>24}  runs")
    for name in [*names, "total"]:
        each = [sum(r[1].values()) if name == "total" else r[1][name] for r in runs]
        listed = ", ".join(f"{v:.1f}" for v in each)
        print(f"{name:<12} {statistics.median(each):>24.1f}  {listed}")
    rates = ", ".join(f"{r[0]:,.0f}" for r in runs)
    print(f"requests/s during the load: {rates}")


if __name__ == "__main__":
    main()
