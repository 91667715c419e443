"""The processor's CPU per message on the local queue, against the queue of a baseline commit.
Not a test.

    python benchmarks/processor_queue.py [--messages 30000] [--rounds 5] [--baseline b3b8791]

Each round fills a votes queue with single-vote messages (as the receiver writes them), then
times (process CPU) a processor poller (lambdas/processor.py over the local queues) taking
them all: receive, the SQS records, the handler, the send to the ready queue, the delete. The
baseline's votectl/local/queue.py (read with `git show`) and this checkout's take turns;
medians, spread and their ratio are printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lambdas import processor  # noqa: E402
from lambdas.contract import Vote, pack  # noqa: E402
from votectl.local import queue as current  # noqa: E402
from votectl.local.poller import Poller  # noqa: E402


def baseline_module(rev: str, tmp: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:votectl/local/queue.py"],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = tmp / "baseline_queue.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_queue", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_round(module: Any, bodies: list[bytes], tmp: Path) -> float:
    """Process CPU seconds per message for a poller over ``module``'s queue."""
    folder = Path(tempfile.mkdtemp(dir=tmp))
    votes = module.SqliteQueue(folder / "votes-queue.db", "votes")
    ready = module.SqliteQueue(folder / "ready-queue.db", "ready")
    for start in range(0, len(bodies), 100):
        votes.send(bodies[start : start + 100])
    poller = Poller(votes, processor.make_handler(ready), batch_size=1000)
    started = time.process_time()
    done = 0
    while done < len(bodies):
        done += poller.poll_once(0).deleted
    votes.close()  # the baseline's consumer deletes its garbage here: it counts
    cpu = time.process_time() - started
    ready.close()
    return cpu / len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default="b3b8791")
    args = parser.parse_args()
    bodies = [
        pack([Vote(f"u{i}", f"tt{i % 1000}", "story", 3)], f"req{i:08x}")[0]
        for i in range(args.messages)
    ]
    with tempfile.TemporaryDirectory(prefix="votectl-proc-") as name:
        tmp = Path(name)
        old = baseline_module(args.baseline, tmp)
        samples: dict[str, list[float]] = {"baseline": [], "current": []}
        ratios = []
        for _ in range(args.rounds):
            samples["baseline"].append(one_round(old, bodies, tmp))
            samples["current"].append(one_round(current, bodies, tmp))
            ratios.append(samples["current"][-1] / samples["baseline"][-1])
    for label, values in samples.items():
        us = [v * 1e6 for v in values]
        print(
            f"{label:9s} CPU per message: median {statistics.median(us):.1f} us "
            f"(min {min(us):.1f}, max {max(us):.1f}), {args.rounds} rounds of {args.messages}"
        )
    print(
        f"current / baseline: median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
