"""Per-invocation figures of the three handlers, the defaults of `votectl plan`.

They come from `python benchmarks/aws_capacity.py --json` (branch `lambdas`): each handler in a
process capped to its memory's CPU share (memory/1769 of a core) against a stub AWS endpoint
answering in 4 ms (the run below, on the shared two-core machine). ``Measured.from_benchmark``
reads that script's JSON (`votectl plan --figures FILE` plans with another run's figures).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["MEASURED", "FunctionFigures", "Measured", "ONE_VCPU_MB"]

ONE_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB; CPU share is linear below


@dataclass(frozen=True)
class FunctionFigures:
    memory_mb: int  # the memory the figures were measured at
    votes_per_s_per_invocation: float  # marginal rate of one invocation on a full batch
    overhead_ms: float  # fixed cost of one invocation: event parsing, the AWS round trips
    # the handler's own lines (its batch line, EMF metrics); the platform's START/END/REPORT
    # lines (about 400 bytes) are not sent: the template sets SystemLogLevel WARN
    log_bytes_per_invocation: int

    def votes_per_s(self, memory_mb: int) -> float:
        """The rate at another memory size: CPU-bound, so it scales with the CPU share, which
        stops growing for one thread at one vCPU."""
        scale = min(memory_mb, ONE_VCPU_MB) / min(self.memory_mb, ONE_VCPU_MB)
        return self.votes_per_s_per_invocation * scale


@dataclass(frozen=True)
class Measured:
    receiver: FunctionFigures
    processor: FunctionFigures
    writer: FunctionFigures  # the PartiQL write path (the default)
    writer_classic: FunctionFigures  # the classic path: one conditional write call a vote
    write_calls_per_vote: float  # table calls per vote (shown; the bill counts write units)
    vote_bytes: int  # one encoded vote in a queue message
    ready_message_votes: int  # the writer's bound on votes per ready message (branch lambdas)
    command: str
    date: str
    estimate: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def from_benchmark(self, data: dict[str, Any]) -> Measured:
        """These figures updated from the JSON of `benchmarks/aws_capacity.py --json`.

        The receiver's fixed overhead and per-vote rate come from its two figures (1-vote and
        100-vote requests: 1/r1 = o + 1/v and 100/r100 = o + 100/v); the processor's and the
        writer's rates are over full batches, their overhead folded in. Raises KeyError or
        ValueError on JSON of another shape.
        """
        r, p, w = data["receiver"], data["processor"], data["writer"]
        single = float(r["votes_per_s_per_invocation"])
        batch = float(r["votes_per_s_per_invocation_batch_100"])
        per_vote = max((100 / batch - 1 / single) / 99, 1e-6)
        receiver = FunctionFigures(
            int(r["memory_mb"]),
            1 / per_vote,
            max(0.0, 1 / single - per_vote) * 1000,
            self.receiver.log_bytes_per_invocation,
        )

        def folded(fig: dict[str, Any], old: FunctionFigures) -> FunctionFigures:
            rate = float(fig["votes_per_s_per_invocation"])
            if rate <= 0:
                raise ValueError("votes_per_s_per_invocation must be above zero")
            return FunctionFigures(int(fig["memory_mb"]), rate, 0.0, old.log_bytes_per_invocation)

        classic = w.get("classic", w.get("putitem"))  # the classic path run (older runs: "putitem")
        return replace(
            self,
            writer_classic=self.writer_classic
            if not isinstance(classic, dict)
            else folded(classic, self.writer_classic),
            receiver=receiver,
            processor=folded(p, self.processor),
            writer=folded(w, self.writer),
            write_calls_per_vote=float(w.get("write_calls_per_vote", self.write_calls_per_vote)),
            command=str(data.get("command", self.command)),
            date=str(data.get("date", self.date)),
            estimate=False,
        )


MEASURED = Measured(
    # `python benchmarks/aws_capacity.py --runs 3 --memory 512 --writer-memory 1024 --json`,
    # medians of 3 runs: receiver 174 single-vote requests/s and 16,591 votes/s in 100-vote
    # requests per invocation (solved: 5.74 ms a request + 2.8 us a vote); processor 41,423
    # votes/s; writer (PartiQL, full batch of 25,000 votes) 5,628 votes/s, 0.044 calls a vote
    # writer, classic conditional writes (PutItem, one call a vote, 16 threads): 539 votes/s at
    # 1,024 MB in the same run, about a tenth of PartiQL's rate: ten times the GB-s per vote.
    # Logs: the receiver writes no line for a good request; the processor and the writer one
    # batch line (about 200 bytes) an invocation.
    receiver=FunctionFigures(512, 353_271.0, 5.74, 0),
    processor=FunctionFigures(512, 41_423.0, 0.0, 200),
    writer=FunctionFigures(1024, 5628.0, 0.0, 200),
    writer_classic=FunctionFigures(1024, 539.0, 0.0, 200),
    write_calls_per_vote=0.044,  # BatchExecuteStatement: 25 statements a call
    vote_bytes=132,
    ready_message_votes=250,  # lambdas.envelope.VOTES_PER_READY_MESSAGE
    command="python benchmarks/aws_capacity.py --runs 3 --memory 512 --writer-memory 1024 --json",
    date="2026-11-27",
    estimate=False,
)
