"""What keeping a `votectl up` child's output costs: lines/s through the rotating stream that
`child_main` installs (votectl/local/logfiles.py) against a plain buffered file. Not a test.

    python benchmarks/log_capture.py [--lines 200000] [--runs 5]

The handlers write one JSON line per event (notes/SHARED_NAMES.md); the gateway answers tens of
thousands of requests a second, so the per-line cost decides whether a log line per request is
affordable. Prints the medians and the ratio of each round (the two ran back to back).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from votectl.local.logfiles import child_main  # noqa: E402

LINE = json.dumps(
    {
        "timestamp": "2026-11-27T16:00:00.000Z",
        "level": "INFO",
        "function": "receiver",
        "message": "accepted 1 vote",
        "request_id": "3f1c9c1e-5d0a-4a8e-9b1e-2f0c6d7e8a9b",
        "correlation_id": "3f1c9c1e-5d0a-4a8e-9b1e-2f0c6d7e8a9b",
    }
)


def through_child_main(folder: Path, lines: int) -> float:
    def write() -> None:
        for _ in range(lines):
            print(LINE)

    saved = sys.stdout, sys.stderr
    start = time.perf_counter()
    try:
        child_main(str(folder / "child.log"), write)
    finally:
        sys.stdout, sys.stderr = saved
    return lines / (time.perf_counter() - start)


def plain_file(folder: Path, lines: int) -> float:
    start = time.perf_counter()
    with open(folder / "plain.log", "w") as f:
        for _ in range(lines):
            print(LINE, file=f)
    return lines / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rotating, plain, ratios = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            r = through_child_main(Path(tmp), args.lines)
            p = plain_file(Path(tmp), args.lines)
        rotating.append(r)
        plain.append(p)
        ratios.append(r / p)
    print(f"lines of {len(LINE)} bytes, {args.lines:,} a run, {args.runs} runs (medians)")
    print(f"  rotating stream (child_main): {statistics.median(rotating):12,.0f} lines/s")
    print(f"  plain buffered file:          {statistics.median(plain):12,.0f} lines/s")
    print(f"  ratio rotating/plain:         {statistics.median(ratios):12.2f}")


if __name__ == "__main__":
    main()
