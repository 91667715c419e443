"""`votectl plan`: what a vote rate needs of a stage, the limit it meets first, what it costs.

model (the plan) <- flow (what the rate asks of each part), checks (the limits that apply),
cost (the bill); from settings (a stage's capacity fields), measured (the handlers' figures),
prices (the AWS price table), writes (write units per vote on each write path) and zipf
(title popularity); capacity (what a stage holds: the highest rate that fits). Nothing here
imports the CLI.
"""

from __future__ import annotations

from typing import Any

from lambdas.contract import MAX_BATCH
from votectl.plan.capacity import Holds, holds
from votectl.plan.model import Plan, build_plan
from votectl.plan.rate import RATE_HINT, parse_rate, parse_share
from votectl.plan.settings import Settings

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_RATE",
    "HOLDS_BATCHES",
    "Holds",
    "MAX_BATCH",
    "RATE_HINT",
    "Plan",
    "Settings",
    "build_plan",
    "cost_line",
    "parse_rate",
    "holds",
    "parse_share",
    "plan_stage",
]

DEFAULT_RATE = "20000/s"
DEFAULT_BATCH = 1
HOLDS_BATCHES = (1, 100)  # `votectl plan` with no --rate: single votes and 100-vote requests


def plan_stage(stage: Any, votes_per_s: float, batch_size: int = DEFAULT_BATCH, **kw: Any) -> Plan:
    """The plan of a ``votectl.config.Stage``."""
    return build_plan(stage, votes_per_s, batch_size, stage=stage.name, **kw)


def cost_line(stage: Any) -> str:
    """One line for `votectl deploy`: what the stage holds, and its cost there."""
    parts = []
    for batch in HOLDS_BATCHES:
        h = holds(stage, batch)
        parts.append(
            f"{h.votes_per_s:,.0f} votes/s in {batch}-vote requests"
            f" (${h.plan.per_million_votes:.2f} per million votes)"
        )
    return f"plan: stage {stage.name} holds " + " and ".join(parts) + " (`votectl plan`)"
