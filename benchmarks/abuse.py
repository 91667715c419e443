"""Resource bounds of the local endpoint under abuse. Not a test.

    python benchmarks/abuse.py [--seconds 10] [--rounds 3] [--idle 1000] [--slowloris 200]
                               [--uploads 50] [--slow-bodies 4300] [--held 4000]
                               [--connections 8] [--nice 0]

A real `votectl up` (default limits). An attacker process holds, and reopens as soon as the
server closes them:
- ``--idle`` connections that never send a byte;
- ``--slowloris`` connections sending a request's headers one byte a second;
- ``--uploads`` POSTs announcing a 256 KiB body, sending 128 KiB at once, then a byte a second;
- ``--slow-bodies`` POSTs of a vote's size whose body comes one byte every 2 s;
- ``--held`` POSTs announcing just under 256 KiB, sending all of it but the last byte at once,
  then holding it.
A well-behaved client (wrk, ``--connections`` keep-alive connections, single votes) measures
its request rate without and with the attack, the rounds taking turns; the gateway's RSS is
sampled throughout, and once more after the last attack. The attacker runs at ``--nice``
(default 0: the same priority as the server). Prints the medians, the ratio (target >= 0.90)
and the peak RSS (target < 300 MB). Traffic goes to 127.0.0.1 only.

On one machine the attacker's own CPU (its process, and the kernel's work for its sockets) is
taken from the server and the client; a real attacker runs elsewhere. So the attacker's CPU
is printed too, and the server's own share of the loss: the gateway's CPU per well-behaved
request alone against under attack. With the gateway on a core of its own that ratio would be
the client's (an estimate: it assumes the gateway, not the machine, bounds the client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from pipeline import wrk  # noqa: E402

from votectl.local.child import running_pipeline  # noqa: E402
from votectl.local.layout import Layout  # noqa: E402

UPLOAD_BYTES = 256 * 1024
HELD_BYTES = UPLOAD_BYTES - 100  # just under the body limit
SLOW_BODY_BYTES = 200  # a vote's size


# --- the attacker (a process of its own: `abuse.py --attack HOST PORT SECONDS ...`) -----------


async def _hold(host: str, port: int, kind: str, until: float, tally: Counter[str]) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally["connect errors"] += 1
            await asyncio.sleep(0.5)
            continue
        tally[f"{kind} opened"] += 1
        try:
            if kind == "upload":
                head = (
                    b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % UPLOAD_BYTES
                )
                writer.write(head + b"[" * (UPLOAD_BYTES // 2))
            elif kind == "held":
                head = (
                    b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % HELD_BYTES
                )
                writer.write(head + b"[" * (HELD_BYTES - 1))
            elif kind == "slow-body":
                head = (
                    b"POST /votes HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n{" % SLOW_BODY_BYTES
                )
                writer.write(head)
            elif kind == "slowloris":
                writer.write(b"P")
            await writer.drain()
            drip = iter(b"OST /votes HTTP/1.1\r\nhost: x\r\nx-a: " + b"a" * 10_000)
            wait = 2.0 if kind == "slow-body" else 1.0
            while time.monotonic() < until:
                with contextlib.suppress(asyncio.TimeoutError):
                    data = await asyncio.wait_for(reader.read(4096), wait)
                    if not data:
                        break  # the server closed it: open another
                    tally[f"{kind} answered {data.split(b' ', 2)[1].decode(errors='replace')}"] += 1
                    break
                if kind == "slowloris":
                    writer.write(bytes([next(drip, 97)]))
                elif kind in ("upload", "slow-body"):
                    writer.write(b"[")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _attack(host: str, port: int, seconds: float, counts: dict[str, int]) -> Counter[str]:
    tally: Counter[str] = Counter()
    until = time.monotonic() + seconds
    tasks = [_hold(host, port, kind, until, tally) for kind, n in counts.items() for _ in range(n)]
    await asyncio.gather(*tasks)
    return tally


def attack_main(host: str, port: int, seconds: float, counts: dict[str, int], nice: int) -> None:
    # A real attacker runs elsewhere: here it shares two cores with the server and the client
    # (at --nice 19 it measures the server's defences more than this machine's cores).
    os.nice(nice)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tally = asyncio.run(_attack(host, port, seconds, counts))
    used = resource.getrusage(resource.RUSAGE_SELF)
    tally["attacker CPU ms"] = int((used.ru_utime + used.ru_stime) * 1000)
    print(json.dumps(tally))


# --- the measurement -----------------------------------------------------------------------


class RssPeak:
    """The peak RSS of a process, sampled every 100 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _runqueue_wait(pid: int) -> float:
    """Seconds the process has spent runnable but waiting for a CPU (Linux schedstat; 0 if
    unknown): high when the machine, not the process, is the bottleneck."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=200)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--slow-bodies", type=int, default=4300)
    parser.add_argument("--held", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--nice", type=int, default=0, help="the attacker's niceness")
    parser.add_argument("--attack", nargs=3, metavar=("HOST", "PORT", "SECONDS"))
    args = parser.parse_args()
    counts = {
        "idle": args.idle,
        "slowloris": args.slowloris,
        "upload": args.uploads,
        "slow-body": args.slow_bodies,
        "held": args.held,
    }
    if args.attack:
        host, port, seconds = args.attack
        attack_main(host, int(port), float(seconds), counts, args.nice)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="votectl-abuse-"))
    plain: list[float] = []
    attacked: list[float] = []
    cost_plain: list[float] = []  # gateway CPU us per well-behaved request
    cost_attacked: list[float] = []
    wait_plain: list[float] = []  # gateway seconds waiting for a CPU per second
    wait_attacked: list[float] = []
    attacker_cores: list[float] = []  # the attacker process's CPU seconds per second
    cycles: list[float] = []  # attacker connections opened per second
    tallies: Counter[str] = Counter()
    peak = 0
    with running_pipeline(data_dir) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        gateway = json.loads(Layout.of(data_dir).up_file.read_text())["processes"]["gateway-0"]
        rss = RssPeak(gateway)
        idle_rss = psutil.Process(gateway).memory_info().rss
        for n in range(args.rounds):
            spent, waited = _cpu(gateway), _runqueue_wait(gateway)
            load = wrk(url, args.seconds, args.connections, 1, f"plain{n}")
            plain.append((load.requests - load.rejected) / load.seconds)
            cost_plain.append((_cpu(gateway) - spent) / max(1, load.requests) * 1e6)
            wait_plain.append((_runqueue_wait(gateway) - waited) / load.seconds)
            settle = 3.0  # the attack opens its connections before the client measures
            attacker = subprocess.Popen(
                [sys.executable, __file__, "--attack", host, port, str(args.seconds + 2 * settle)]
                + [f"--idle={args.idle}", f"--slowloris={args.slowloris}"]
                + [f"--uploads={args.uploads}", f"--slow-bodies={args.slow_bodies}"]
                + [f"--held={args.held}", f"--nice={args.nice}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(settle)
            held = len(psutil.Process(gateway).net_connections("tcp"))
            spent, waited = _cpu(gateway), _runqueue_wait(gateway)
            load = wrk(url, args.seconds, args.connections, 1, f"attacked{n}")
            attacked.append((load.requests - load.rejected) / load.seconds)
            cost_attacked.append((_cpu(gateway) - spent) / max(1, load.requests) * 1e6)
            wait_attacked.append((_runqueue_wait(gateway) - waited) / load.seconds)
            out, _ = attacker.communicate(timeout=args.seconds + 60)
            tally = json.loads(out.strip().splitlines()[-1])
            tallies.update(tally)
            attack_seconds = args.seconds + 2 * settle
            attacker_cores.append(tally["attacker CPU ms"] / 1000 / attack_seconds)
            opened = sum(v for k, v in tally.items() if k.endswith(" opened"))
            cycles.append(opened / attack_seconds)
            tallies["connections the gateway held (sampled)"] = max(
                held, tallies["connections the gateway held (sampled)"]
            )
            print(
                f"round {n + 1}: {plain[-1]:,.0f} req/s alone, {attacked[-1]:,.0f} under attack "
                f"({attacked[-1] / plain[-1]:.2f}); {held} connections held; gateway CPU per "
                f"request {cost_plain[-1]:.0f} / {cost_attacked[-1]:.0f} us "
                f"({cost_plain[-1] / cost_attacked[-1]:.2f}); attacker {attacker_cores[-1]:.2f} "
                f"cores, {cycles[-1]:,.0f} connections opened/s",
                flush=True,
            )
        peak = rss.stop()
        time.sleep(2.0)  # the last attack is over: what the gateway keeps
        after_rss = psutil.Process(gateway).memory_info().rss
    ratio = statistics.median(a / p for a, p in zip(attacked, plain, strict=True))
    print(
        f"attack: {args.idle} idle, {args.slowloris} slowloris, {args.uploads} slow uploads, "
        f"{args.slow_bodies} slow bodies, {args.held} held near-limit uploads, nice {args.nice}"
    )
    print(f"well-behaved client (wrk -c{args.connections}, single votes), median of {args.rounds}:")
    print(f"  alone         {statistics.median(plain):>10,.0f} req/s")
    print(f"  under attack  {statistics.median(attacked):>10,.0f} req/s")
    print(f"  ratio         {ratio:>10.2f}   (target >= 0.90; round by round median)")
    print(
        f"gateway CPU per well-behaved request (median): {statistics.median(cost_plain):.0f} us "
        f"alone, {statistics.median(cost_attacked):.0f} us under attack (the attack's share)"
    )
    own = [p / a for p, a in zip(cost_plain, cost_attacked, strict=True)]
    print(
        f"  the server's own share: CPU per request alone / under attack, round by round "
        f"{', '.join(f'{r:.2f}' for r in own)} (median {statistics.median(own):.2f}): the ratio "
        f"estimated for an attacker on another machine"
    )
    print(
        f"attacker process CPU (median): {statistics.median(attacker_cores):.2f} cores of "
        f"{os.cpu_count()}, opening {statistics.median(cycles):,.0f} connections/s"
    )
    print(
        f"gateway waiting for a CPU (median): {statistics.median(wait_plain) * 1000:.0f} ms/s "
        f"alone, {statistics.median(wait_attacked) * 1000:.0f} ms/s under attack"
    )
    print(
        f"gateway RSS: {idle_rss / 2**20:.0f} MB before, peak {peak / 2**20:.0f} MB (< 300 MB), "
        f"{after_rss / 2**20:.0f} MB 2 s after the last attack"
    )
    for name, value in sorted(tallies.items()):
        print(f"  {name:<40} {value:,}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
