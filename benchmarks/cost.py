"""CPU time per request of each `votectl up` process, under the benchmark's load. Not a test.

    python benchmarks/cost.py [--seconds 6] [--runs 3] [--connections 64]

Runs `votectl up`, drives it with wrk exactly as pipeline.py's single-vote row does, and reads
each process's CPU time (user + system, from /proc; Linux only) before the load and after the
drain. Prints, per process (up.json names them), the median microseconds of CPU per request:
where a persisted vote's cost goes. CPU time per request moves much less than throughput on a
shared machine, so it is the figure to compare before and after a change.

Each round also runs pipeline.py's ceiling (the bare uvicorn app) under the same wrk, and
measures wrk's own CPU per request in both. From these it prints the bounds the CPU puts on
pipeline.py's local / ceiling ratio on this machine's cores, whatever the scheduling:

- one gateway process can use at most one core, so it answers at most 1 / (its CPU per
  request) requests a second, while the ceiling's one process does 1 / (the ceiling's);
- all processes together, wrk included, can use at most the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pipeline import WORKERS, ceiling_args, free_port, server, wrk  # noqa: E402

from votectl.local.child import running_pipeline  # noqa: E402
from votectl.local.ops import LocalOperations  # noqa: E402
from votectl.operations import drain  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (wrk runs as one)."""
    t = os.times()
    return t.children_user + t.children_system


@dataclass(frozen=True)
class Run:
    rate: float  # requests/s during the load
    cpu: dict[str, float]  # microseconds of CPU a request, by process
    wrk: float  # wrk's own microseconds of CPU a request

    @property
    def total(self) -> float:
        return sum(self.cpu.values())


def one_run(seconds: float, connections: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="votectl-cost-") as tmp:
        data_dir = Path(tmp) / "local"
        with running_pipeline(data_dir, *WORKERS) as url:
            processes = json.loads((data_dir / "up.json").read_text())["processes"]
            before = {name: cpu_seconds(pid) for name, pid in processes.items()}
            wrk_before = children_cpu()
            load = wrk(url, seconds, connections, 1, os.urandom(4).hex())
            wrk_cpu = children_cpu() - wrk_before
            drain(LocalOperations(str(data_dir)), timeout=300)
            after = {name: cpu_seconds(pid) for name, pid in processes.items()}
    per_request = {name: (after[name] - before[name]) / load.requests * 1e6 for name in before}
    return Run(load.requests / load.seconds, per_request, wrk_cpu / load.requests * 1e6)


def ceiling_run(seconds: float, connections: int) -> Run:
    """pipeline.py's ceiling row under the same load: its server's and wrk's CPU a request."""
    port = free_port()
    with server(ceiling_args(port), port) as proc:  # one uvicorn worker: the process started
        before, wrk_before = cpu_seconds(proc.pid), children_cpu()
        load = wrk(f"http://127.0.0.1:{port}", seconds, connections, 1, os.urandom(4).hex())
        used, wrk_cpu = cpu_seconds(proc.pid) - before, children_cpu() - wrk_before
    per_request = {"ceiling": used / load.requests * 1e6}
    return Run(load.requests / load.seconds, per_request, wrk_cpu / load.requests * 1e6)


def print_table(title: str, runs: list[Run]) -> None:
    names = sorted(runs[0].cpu, key=lambda n: (n.startswith("gateway"), n))
    print(f"{title:<12} {'CPU us/request (median)':>24}  runs")
    rows = [(name, [r.cpu[name] for r in runs]) for name in names]
    rows += [("total", [r.total for r in runs]), ("(wrk)", [r.wrk for r in runs])]
    for name, each in rows:
        listed = ", ".join(f"{v:.1f}" for v in each)
        print(f"{name:<12} {statistics.median(each):>24.1f}  {listed}")
    rates = ", ".join(f"{r.rate:,.0f}" for r in runs)
    print(f"requests/s during the load: {rates}")


def bounds(local: list[Run], ceiling: list[Run], cores: int) -> None:
    """The most local / ceiling can be, from the CPU each request costs."""
    gateway = statistics.median(
        sum(v for k, v in r.cpu.items() if k.startswith("gateway")) for r in local
    )
    pipeline = statistics.median(r.total for r in local)
    local_wrk = statistics.median(r.wrk for r in local)
    server_us = statistics.median(r.total for r in ceiling)
    ceiling_wrk = statistics.median(r.wrk for r in ceiling)
    ceiling_rate = statistics.median(r.rate for r in ceiling)
    one_core = server_us / gateway
    all_cores = cores * 1e6 / (pipeline + local_wrk) / ceiling_rate
    print(
        f"ceiling: server {server_us:.1f} us + wrk {ceiling_wrk:.1f} us a request, "
        f"{ceiling_rate:,.0f} requests/s"
    )
    print(
        f"bound, one gateway on one core: ceiling server / gateway = {one_core:.2f}x; "
        f"bound, {cores} cores for pipeline + wrk ({pipeline:.1f} + {local_wrk:.1f} us): "
        f"{all_cores:.2f}x; local / ceiling can be at most {min(one_core, all_cores):.2f}x here"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    local: list[Run] = []
    ceiling: list[Run] = []
    for _ in range(args.runs):  # interleaved: both see the same machine state
        local.append(one_run(args.seconds, args.connections))
        ceiling.append(ceiling_run(args.seconds, args.connections))
    print_table("process", local)
    print_table("ceiling", ceiling)
    bounds(local, ceiling, os.cpu_count() or 1)


if __name__ == "__main__":
    main()
