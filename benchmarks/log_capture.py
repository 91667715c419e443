"""What keeping a `votectl up` child's output costs: lines/s through the rotating stream that
`child_main` installs (votectl/local/logfiles.py) against logging's RotatingFileHandler and a
plain buffered file. Not a test.

    python benchmarks/log_capture.py [--lines 200000] [--runs 5]

The handlers write one JSON line per event (notes/SHARED_NAMES.md); the gateway answers tens of
thousands of requests a second, so the per-line cost decides whether a log line per request is
affordable. Prints the medians and the ratio of each round (the two ran back to back).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from logging.handlers import RotatingFileHandler
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


def rotating_file_handler(folder: Path, lines: int) -> float:
    """The standard library's way, which child_main once used: a LogRecord per line."""
    handler = RotatingFileHandler(folder / "handler.log", maxBytes=10 * 2**20, backupCount=4)
    handler.setFormatter(logging.Formatter("%(message)s"))
    start = time.perf_counter()
    for _ in range(lines):
        handler.handle(logging.makeLogRecord({"msg": LINE, "levelno": logging.INFO}))
    handler.close()
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
    rotating, stdlib, plain, ratios = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            r = through_child_main(Path(tmp), args.lines)
            h = rotating_file_handler(Path(tmp), args.lines)
            p = plain_file(Path(tmp), args.lines)
        rotating.append(r)
        stdlib.append(h)
        plain.append(p)
        ratios.append((r / p, r / h))
    print(f"lines of {len(LINE)} bytes, {args.lines:,} a run, {args.runs} runs (medians)")
    print(f"  rotating stream (child_main): {statistics.median(rotating):12,.0f} lines/s")
    print(f"  logging RotatingFileHandler:  {statistics.median(stdlib):12,.0f} lines/s")
    print(f"  plain buffered file:          {statistics.median(plain):12,.0f} lines/s")
    print(f"  ratio child_main/plain:       {statistics.median(r[0] for r in ratios):12.2f}")
    print(f"  ratio child_main/handler:     {statistics.median(r[1] for r in ratios):12.2f}")


if __name__ == "__main__":
    main()
