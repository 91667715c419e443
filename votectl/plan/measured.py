"""Per-invocation figures of the three handlers, the defaults of `votectl plan`.

They come from `python benchmarks/aws_capacity.py --json` (branch `lambdas`): each handler in a
process capped to its memory's CPU share (memory/1769 of a core) against a stub AWS endpoint
answering in 4 ms. Until that run is copied in, the figures below are ESTIMATES (``estimate`` is
True and the plan says so): the writer's from issue 8 (989 votes/s per invocation on a full
core, 310 at 512 MB), the others scaled from `benchmarks/cost.py` (CPU per vote on a full core,
x 1769/512 for a 512 MB share).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MEASURED", "FunctionFigures", "Measured", "ONE_VCPU_MB"]

ONE_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB; CPU share is linear below


@dataclass(frozen=True)
class FunctionFigures:
    memory_mb: int  # the memory the figures were measured at
    votes_per_s_per_invocation: float  # marginal rate of one invocation on a full batch
    overhead_ms: float  # fixed cost of one invocation: event parsing, the AWS round trips
    log_bytes_per_invocation: int  # START/END/REPORT lines plus the handler's own lines

    def votes_per_s(self, memory_mb: int) -> float:
        """The rate at another memory size: CPU-bound, so it scales with the CPU share, which
        stops growing for one thread at one vCPU."""
        scale = min(memory_mb, ONE_VCPU_MB) / min(self.memory_mb, ONE_VCPU_MB)
        return self.votes_per_s_per_invocation * scale


@dataclass(frozen=True)
class Measured:
    receiver: FunctionFigures
    processor: FunctionFigures
    writer: FunctionFigures
    write_calls_per_vote: float  # table calls per vote (1.0 unthrottled; retries add)
    vote_bytes: int  # one encoded vote in a queue message
    ready_message_votes: int  # the writer's bound on votes per ready message (branch lambdas)
    command: str
    date: str
    estimate: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


MEASURED = Measured(
    receiver=FunctionFigures(512, 12_000.0, 12.0, 400),
    processor=FunctionFigures(512, 30_000.0, 20.0, 600),
    writer=FunctionFigures(1769, 989.0, 20.0, 600),
    write_calls_per_vote=1.0,
    vote_bytes=132,
    ready_message_votes=100,
    command="python benchmarks/aws_capacity.py --json",
    date="2026-11-27",
    estimate=True,
)
