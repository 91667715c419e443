"""benchmarks/aws_capacity.py as docs/write-path.md shows it, in its quick form: the real
handlers, each in its own process, against the stub endpoint. Figures are not judged here
(timing belongs to the benchmark); what must hold whatever the machine's load is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from votectl.config import Stage

ROOT = Path(__file__).parents[2]


COMMAND = ["benchmarks/aws_capacity.py", "--quick", "--json"]


def test_the_page_shows_the_command_this_test_runs() -> None:
    page = (ROOT / "docs" / "write-path.md").read_text()
    assert f"$ python {' '.join(COMMAND)}\n" in page


def test_the_capacity_benchmark_runs_the_handlers_and_loses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, *COMMAND],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    for function in ("receiver", "processor", "writer"):  # at the default stage's memories
        assert figures[function]["memory_mb"] == getattr(Stage(), f"{function}_memory")
        assert figures[function]["votes_per_s_per_invocation"] > 0
    writer = figures["writer"]
    assert writer["write_path"] == "partiql" and writer["write_calls_per_vote"] < 0.1
    assert writer["classic"]["write_calls_per_vote"] >= 1.0
    # a tenth re-votes: PartiQL bills their refused INSERT too, the classic path does not
    assert writer["write_units_per_vote"] == 1.1 and writer["classic"]["write_units_per_vote"] == 1
    fallback = writer["fallback"]
    assert fallback["lost"] == fallback["requeued_messages"] == fallback["returned_messages"] == 0
    assert fallback["votes_written_classic"] == fallback["votes"] // 10  # the re-votes
    throttled = writer["throttled"]
    assert (throttled["messages_returned_whole"], throttled["votes_to_dlq"]) == (0, 0)
    assert throttled["lost"] == 0 and throttled["write_calls_per_vote"] < 2
    stalled = figures["receiver"]["stalled_sqs"]
    assert stalled["status"] == 503 and stalled["json_error"]  # its time is a figure, not judged
    assert "writer" in result.stderr  # the report for people
