"""`votectl demo`: the whole pipeline, end to end, in a temporary data dir.

The same run as `votectl loadtest`: a `votectl up` child process, a few seconds of Locust's
``SingleVoter`` (distinct single votes), drain, verify; then the results of the most voted title.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from votectl.config import LOCAL, load_stage
from votectl.loadtest import LoadSettings, LoadtestResult, run
from votectl.local.ops import LocalOperations
from votectl.model import Results

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    load: LoadtestResult
    stored: int
    drain_seconds: float
    top_title: Results | None
    users: int = 32  # Locust users, in one Locust process: the demo's own bound

    @property
    def persisted_votes_per_s(self) -> float:
        """Distinct votes accepted / (load time + drain time)."""
        return self.load.distinct_votes / (self.load.duration_s + self.drain_seconds)

    def to_json(self) -> dict[str, Any]:
        """`votectl loadtest --json`'s schema, plus the demo's own figures."""
        return {
            **self.load.to_json(),
            "persisted_votes_per_s": round(self.persisted_votes_per_s, 1),
            "load_generator": {"locust_processes": 1, "users": self.users},
            "results": None if self.top_title is None else self.top_title.to_json(),
        }


def run_demo(
    seconds: float = 5.0, users: int = 32, progress: Callable[[str], None] = lambda _: None
) -> DemoResult:
    with tempfile.TemporaryDirectory(prefix="votectl-demo-") as tmp:
        stage = load_stage(LOCAL, data_dir=str(Path(tmp) / "local"))
        settings = LoadSettings(
            users=users,
            duration=f"{seconds:g}s",
            user_classes=("SingleVoter",),
            report_dir=Path(tmp) / "report",
        )
        load = run(stage, settings, output=progress, locust_log=lambda _: None)
        verification = load.verification
        assert verification is not None  # LoadSettings.verify defaults to True
        ops = LocalOperations(stage.data_dir)
        top = ops.top_title()
        return DemoResult(
            load=load,
            stored=verification.stored,
            drain_seconds=verification.drain_seconds,
            top_title=None if top is None else ops.results(top),
            users=users,
        )
