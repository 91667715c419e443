"""Resource bounds of the local endpoint under abuse. Not a test.

    python benchmarks/abuse.py [--seconds 10] [--rounds 3] [--idle 1000] [--slowloris 200]
                               [--uploads 50] [--connections 8]

A real `votectl up` (default limits). An attacker process holds, and reopens as soon as the
server closes them:
- ``--idle`` connections that never send a byte;
- ``--slowloris`` connections sending a request's headers one byte a second;
- ``--uploads`` POSTs announcing a 256 KiB body, sending 128 KiB at once, then a byte a second.
A well-behaved client (wrk, ``--connections`` keep-alive connections, single votes) measures
its request rate without and with the attack, the rounds taking turns; the gateway's RSS is
sampled throughout. The attacker runs at nice 19 (it would be on another machine). Prints the
medians, the ratio (target >= 0.90) and the peak RSS (target
< 300 MB). Traffic goes to 127.0.0.1 only.
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
            elif kind == "slowloris":
                writer.write(b"P")
            await writer.drain()
            drip = iter(b"OST /votes HTTP/1.1\r\nhost: x\r\nx-a: " + b"a" * 10_000)
            while time.monotonic() < until:
                with contextlib.suppress(asyncio.TimeoutError):
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                    if not data:
                        break  # the server closed it: open another
                    tally[f"{kind} answered {data.split(b' ', 2)[1].decode(errors='replace')}"] += 1
                    break
                if kind == "slowloris":
                    writer.write(bytes([next(drip, 97)]))
                elif kind == "upload":
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


def attack_main(host: str, port: int, seconds: float, counts: dict[str, int]) -> None:
    # A real attacker runs elsewhere: here it shares two cores with the server and the client,
    # so it runs at the lowest priority, to measure the server's defences, not this machine.
    os.nice(19)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps(asyncio.run(_attack(host, port, seconds, counts))))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=200)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--attack", nargs=3, metavar=("HOST", "PORT", "SECONDS"))
    args = parser.parse_args()
    counts = {"idle": args.idle, "slowloris": args.slowloris, "upload": args.uploads}
    if args.attack:
        host, port, seconds = args.attack
        attack_main(host, int(port), float(seconds), counts)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="votectl-abuse-"))
    plain: list[float] = []
    attacked: list[float] = []
    tallies: Counter[str] = Counter()
    peak = 0
    with running_pipeline(data_dir) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        gateway = json.loads(Layout.of(data_dir).up_file.read_text())["processes"]["gateway-0"]
        rss = RssPeak(gateway)
        idle_rss = psutil.Process(gateway).memory_info().rss
        for n in range(args.rounds):
            load = wrk(url, args.seconds, args.connections, 1, f"plain{n}")
            plain.append((load.requests - load.rejected) / load.seconds)
            settle = 3.0  # the attack opens its connections before the client measures
            attacker = subprocess.Popen(
                [sys.executable, __file__, "--attack", host, port, str(args.seconds + 2 * settle)]
                + [f"--idle={args.idle}", f"--slowloris={args.slowloris}"]
                + [f"--uploads={args.uploads}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(settle)
            held = len(psutil.Process(gateway).net_connections("tcp"))
            load = wrk(url, args.seconds, args.connections, 1, f"attacked{n}")
            attacked.append((load.requests - load.rejected) / load.seconds)
            out, _ = attacker.communicate(timeout=args.seconds + 60)
            tallies.update(json.loads(out.strip().splitlines()[-1]))
            tallies["connections the gateway held (sampled)"] = max(
                held, tallies["connections the gateway held (sampled)"]
            )
            print(
                f"round {n + 1}: {plain[-1]:,.0f} req/s alone, {attacked[-1]:,.0f} under attack "
                f"({attacked[-1] / plain[-1]:.2f}); {held} connections held",
                flush=True,
            )
        peak = rss.stop()
    ratio = statistics.median(a / p for a, p in zip(attacked, plain, strict=True))
    print(f"attack: {args.idle} idle, {args.slowloris} slowloris, {args.uploads} held uploads")
    print(f"well-behaved client (wrk -c{args.connections}, single votes), median of {args.rounds}:")
    print(f"  alone         {statistics.median(plain):>10,.0f} req/s")
    print(f"  under attack  {statistics.median(attacked):>10,.0f} req/s")
    print(f"  ratio         {ratio:>10.2f}   (target >= 0.90; round by round median)")
    print(f"gateway RSS: {idle_rss / 2**20:.0f} MB before, peak {peak / 2**20:.0f} MB (< 300 MB)")
    for name, value in sorted(tallies.items()):
        print(f"  {name:<40} {value:,}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
