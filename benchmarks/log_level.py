"""What the local default log level costs: the pollers at INFO (a line per batch, the default
since `votectl logs` shows them) against WARNING, as the time to store a backlog. Not a test.

    python benchmarks/log_level.py [--votes 50000] [--rounds 3]

Each round starts `votectl up --detach` once per level (interleaved, the order alternating),
queues ``--votes`` votes in batches of 500, and times until the table holds them all. Prints each
level's median votes/s stored and the median of the per-round ratios INFO/WARNING.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BATCH = 500


def votectl(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "votectl", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return done.stdout


def stored_per_s(level: str, votes: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "local")
        url = votectl(
            "up", "--detach", "--port", "0", "--data-dir", data, env={"LOG_LEVEL": level}
        ).strip()
        try:
            with httpx.Client(timeout=30) as client:
                start = time.perf_counter()
                for n in range(0, votes, BATCH):
                    batch = [
                        {"user_id": f"u{n + i}", "title_id": "tt1", "aspect": "story", "score": 3}
                        for i in range(BATCH)
                    ]
                    client.post(url, json={"votes": batch}).raise_for_status()
                while (
                    json.loads(votectl("table", "count", "--data-dir", data, "--json"))["count"]
                    < votes
                ):
                    time.sleep(0.05)
                return votes / (time.perf_counter() - start)
        finally:
            votectl("down", "--data-dir", data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--votes", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"INFO": [], "WARNING": []}
    ratios = []
    for n in range(args.rounds):
        order = ["INFO", "WARNING"] if n % 2 == 0 else ["WARNING", "INFO"]
        got = {level: stored_per_s(level, args.votes) for level in order}
        for level, rate in got.items():
            rates[level].append(rate)
        ratios.append(got["INFO"] / got["WARNING"])
    print(f"{args.votes:,} votes in batches of {BATCH}, {args.rounds} rounds (medians)")
    for level, values in rates.items():
        spread = f"{min(values):,.0f}..{max(values):,.0f}"
        print(
            f"  pollers at {level:<7}: {statistics.median(values):9,.0f} votes/s stored ({spread})"
        )
    print(
        f"  ratio INFO/WARNING: {statistics.median(ratios):.2f} (per round: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )


if __name__ == "__main__":
    main()
