"""Requests/s one Locust process (SingleVoter, FastHttpUser) drives at `votectl up`. Not a test.

    python benchmarks/locust_rate.py [--users 32] [--duration 10s] [--runs 3]

Each run is `votectl loadtest` as a library: a fresh `votectl up` in a temp dir, Locust headless
with one process, then drain-and-verify. Prints requests/s, failures and lost per run and the
median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from votectl.config import load_stage  # noqa: E402
from votectl.loadtest import LoadSettings, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="votectl-locust-") as tmp:
            stage = load_stage("local", data_dir=str(Path(tmp) / "local"))
            settings = LoadSettings(
                users=args.users, duration=args.duration, report_dir=Path(tmp) / "report"
            )
            result = run(stage, settings)
        s = result.requests
        rates.append(s.requests_per_s)
        print(
            f"run {i + 1}: {s.requests_per_s:,.0f} req/s, {s.failures} failures, "
            f"p50 {s.p50_ms:g} ms, p99 {s.p99_ms:g} ms, lost {result.lost}",
            flush=True,
        )
    print(f"median: {statistics.median(rates):,.0f} requests/s (SingleVoter, 1 Locust process)")


if __name__ == "__main__":
    main()
