"""What a stage holds: the highest vote rate it fits at a batch size, and what that rate costs.

`votectl plan` with no ``--rate`` answers this for single votes and 100-vote requests. The
rate is found by bisection on ``Plan.fits`` (every limit that grows with the rate is monotone
in it); a limit that fails at any rate (a batch longer than half its timeout) holds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from votectl.plan.checks import Check
from votectl.plan.model import Plan, build_plan
from votectl.plan.settings import Settings

__all__ = ["HOLDS_SCHEMA", "Holds", "holds"]

HOLDS_SCHEMA = "votectl.plan.holds/1"
CEILING = 1e9  # votes/s: no stage holds this; the search stops here
PRECISION = 1e-3  # relative width the bisection stops at


@dataclass(frozen=True)
class Holds:
    batch_size: int
    votes_per_s: float  # the highest rate that fits (0: none does)
    plan: Plan  # the plan at that rate (at 1 vote/s when none fits)
    binding: Check | None  # the limit that fails just above it

    def to_json(self) -> dict[str, Any]:
        b = self.binding
        return {
            "batch_size": self.batch_size,
            "max_votes_per_s": round(self.votes_per_s, 1),
            "requests_per_s": round(self.votes_per_s / self.batch_size, 1),
            "binding": None
            if b is None
            else {"component": b.component, "limit": b.limit, "fix": b.fix, "source": b.source},
            "write_units_per_vote": round(self.plan.flow.write_units.per_vote, 4),
            "monthly_usd": round(self.plan.monthly, 2) if self.votes_per_s else 0.0,
            "per_million_votes_usd": round(self.plan.per_million_votes, 4),
            "cheaper_write_path": None
            if self.plan.cheaper_write_path is None
            else self.plan.cheaper_write_path.path,
        }


def _first_failing(plan: Plan) -> Check | None:
    failing = [c for c in plan.checks if not c.fits]
    return min(failing, key=lambda c: c.headroom / c.margin, default=None)


def holds(settings: Settings, batch_size: int, **kw: Any) -> Holds:
    """The highest rate ``settings`` fits at ``batch_size`` votes a request."""

    def at(rate: float, compare: bool = False) -> Plan:
        return build_plan(settings, rate, batch_size, compare=compare, **kw)

    low_plan = at(1.0)
    if not low_plan.fits:
        return Holds(batch_size, 0.0, at(1.0, compare=True), _first_failing(low_plan))
    low, high = 1.0, 1000.0
    while at(high).fits:
        low, high = high, high * 4
        if high > CEILING:
            return Holds(batch_size, CEILING, at(CEILING, compare=True), None)
    while high - low > low * PRECISION:
        middle = (low + high) / 2
        low, high = (middle, high) if at(middle).fits else (low, middle)
    return Holds(batch_size, low, at(low, compare=True), _first_failing(at(high)))
