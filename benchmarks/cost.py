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
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pipeline import free_port, wait_listening, wrk  # noqa: E402

from votectl.local.child import running_pipeline, stop  # noqa: E402
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


def one_run(seconds: float, connections: int) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="votectl-cost-") as tmp:
        data_dir = Path(tmp) / "local"
        with running_pipeline(data_dir, "--workers", "1") as url:
            processes = json.loads((data_dir / "up.json").read_text())["processes"]
            before = {name: cpu_seconds(pid) for name, pid in processes.items()}
            wrk_before = children_cpu()
            load = wrk(url, seconds, connections, 1, os.urandom(4).hex())
            wrk_cpu = children_cpu() - wrk_before
            drain(LocalOperations(str(data_dir)), timeout=300)
            after = {name: cpu_seconds(pid) for name, pid in processes.items()}
    per_request = {name: (after[name] - before[name]) / load.requests * 1e6 for name in before}
    per_request["(wrk)"] = wrk_cpu / load.requests * 1e6
    return load.requests / load.seconds, per_request


def ceiling_run(seconds: float, connections: int) -> tuple[float, dict[str, float]]:
    """pipeline.py's ceiling row under the same load: its server's and wrk's CPU a request."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_servers.py"), "ceiling", str(port), "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:  # one uvicorn worker serves in the process started
        wait_listening(port, server)
        before, wrk_before = cpu_seconds(server.pid), children_cpu()
        load = wrk(f"http://127.0.0.1:{port}", seconds, connections, 1, os.urandom(4).hex())
        used, wrk_cpu = cpu_seconds(server.pid) - before, children_cpu() - wrk_before
    finally:
        stop(server)
    return load.requests / load.seconds, {
        "ceiling": used / load.requests * 1e6,
        "(wrk)": wrk_cpu / load.requests * 1e6,
    }


def print_table(title: str, runs: list[tuple[float, dict[str, float]]]) -> None:
    names = sorted(runs[0][1], key=lambda n: (n.startswith("("), n.startswith("gateway"), n))
    print(f"{title:<12} {'CPU us/request (median)':>24}  runs")
    for name in [*names, "total"]:
        each = [
            sum(v for k, v in r[1].items() if not k.startswith("("))
            if name == "total"
            else r[1][name]
            for r in runs
        ]
        listed = ", ".join(f"{v:.1f}" for v in each)
        print(f"{name:<12} {statistics.median(each):>24.1f}  {listed}")
    rates = ", ".join(f"{r[0]:,.0f}" for r in runs)
    print(f"requests/s during the load: {rates}")


def bounds(
    local: list[tuple[float, dict[str, float]]],
    ceiling: list[tuple[float, dict[str, float]]],
    cores: int,
) -> None:
    """The most local / ceiling can be, from the CPU each request costs."""

    def med(runs: list[tuple[float, dict[str, float]]], pick: Any) -> float:
        return statistics.median(pick(r[1]) for r in runs)

    gateway = med(local, lambda c: sum(v for k, v in c.items() if k.startswith("gateway")))
    pipeline = med(local, lambda c: sum(v for k, v in c.items() if not k.startswith("(")))
    local_wrk = med(local, lambda c: c["(wrk)"])
    server = med(ceiling, lambda c: c["ceiling"])
    ceiling_wrk = med(ceiling, lambda c: c["(wrk)"])
    ceiling_rate = statistics.median(r[0] for r in ceiling)
    one_core = server / gateway
    all_cores = cores * 1e6 / (pipeline + local_wrk) / ceiling_rate
    print(
        f"ceiling: server {server:.1f} us + wrk {ceiling_wrk:.1f} us a request, "
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
    local: list[tuple[float, dict[str, float]]] = []
    ceiling: list[tuple[float, dict[str, float]]] = []
    for _ in range(args.runs):  # interleaved: both see the same machine state
        local.append(one_run(args.seconds, args.connections))
        ceiling.append(ceiling_run(args.seconds, args.connections))
    print_table("process", local)
    print_table("ceiling", ceiling)
    bounds(local, ceiling, os.cpu_count() or 1)


if __name__ == "__main__":
    main()
