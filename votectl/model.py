"""What the operations return, on either target: frozen dataclasses with a stable JSON form.

``to_json()`` of each is the ``--json`` schema of its command; tests pin them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AspectResult", "Pulse", "QueueStat", "RedriveResult", "Results", "TableCount"]


@dataclass(frozen=True)
class QueueStat:
    name: str
    visible: int
    in_flight: int
    delayed: int
    dlq: bool
    source: str | None = None


def queue_stats_json(stats: list[QueueStat]) -> dict[str, Any]:
    return {"queues": [asdict(s) for s in stats]}


@dataclass(frozen=True)
class TableCount:
    table: str
    count: int
    exact: bool
    age_seconds: float | None = None  # how old an approximate count is, where known

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AspectResult:
    votes: int
    mean: float
    scores: dict[str, int]


@dataclass(frozen=True)
class Results:
    title_id: str
    aspects: dict[str, AspectResult]

    @classmethod
    def from_counts(cls, title_id: str, counts: dict[tuple[str, int], int]) -> Results:
        """(aspect, score) -> number of votes, as both targets read it, into the result shape."""
        aspects: dict[str, AspectResult] = {}
        for aspect in sorted({a for a, _ in counts}):
            scores = {str(s): counts.get((aspect, s), 0) for s in range(1, 6)}
            votes = sum(scores.values())
            mean = sum(int(s) * n for s, n in scores.items()) / votes
            aspects[aspect] = AspectResult(votes=votes, mean=round(mean, 3), scores=scores)
        return cls(title_id=title_id, aspects=aspects)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueueMove:
    dlq: str
    source: str
    moved: int
    status: str = "COMPLETED"  # or CANCELLED, NONE_RUNNING, DRY_RUN
    came_back: int = 0  # of those moved, seen back in the DLQ before the command ended
    pending: int = 0  # local: of those moved, neither handled nor back when it stopped waiting
    would_move: int = 0  # --dry-run: the messages in the DLQ now


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    method: str  # "local", "move-task", "receive-send-delete" or "dry-run"
    queues: list[QueueMove] = field(default_factory=list)

    @property
    def came_back(self) -> int:
        return sum(m.came_back for m in self.queues)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "came_back": self.came_back}


@dataclass(frozen=True)
class Pulse:
    """What `votectl watch` needs beyond queue stats and the table count; None where a target
    cannot tell. ``sent`` counts messages ever sent per queue (local); ``in_rate`` is a
    target's own messages/s in (AWS: CloudWatch, a minute behind); ``write_units_per_vote``
    the table's consumed write units per vote written (AWS: the writer's metrics)."""

    accepted: int | None = None  # votes answered 202 since `votectl up` started
    accepted_at: float | None = None  # unix seconds `votectl up` counted ``accepted`` at
    oldest_age_s: dict[str, float | None] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    in_rate: dict[str, float | None] = field(default_factory=dict)
    write_units_per_vote: float | None = None
