"""`votectl plan`: what a vote rate needs of a stage, the limit it meets first, what it costs.

model (the plan) <- flow (what the rate asks of each part), checks (the limits that apply),
cost (the bill); from settings (a stage's capacity fields), measured (the handlers' figures),
prices (the AWS price table) and zipf (title popularity). Nothing here imports the CLI.
"""

from __future__ import annotations

from typing import Any

from lambdas.contract import MAX_BATCH
from votectl.plan.model import Plan, build_plan
from votectl.plan.rate import RATE_HINT, parse_rate
from votectl.plan.settings import Settings

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_RATE",
    "MAX_BATCH",
    "RATE_HINT",
    "Plan",
    "Settings",
    "build_plan",
    "cost_line",
    "parse_rate",
    "plan_stage",
]

DEFAULT_RATE = "20000/s"
DEFAULT_BATCH = 1


def plan_stage(stage: Any, votes_per_s: float, batch_size: int = DEFAULT_BATCH, **kw: Any) -> Plan:
    """The plan of a ``votectl.config.Stage``."""
    return build_plan(stage, votes_per_s, batch_size, stage=stage.name, **kw)


def cost_line(stage: Any) -> str:
    """One line for `votectl deploy`: the stage's cost and fit at the default rate."""
    plan = plan_stage(stage, parse_rate(DEFAULT_RATE), DEFAULT_BATCH)
    head = (
        f"plan at {plan.votes_per_s:,.0f} votes/s, {plan.batch_size} a request:"
        f" ${plan.monthly:,.0f}/month, ${plan.per_million_votes:.2f} per million votes"
    )
    alt = plan.alternative
    if alt is not None and alt.monthly < plan.monthly:
        head += f" ({alt.front_door}: ${plan.monthly - alt.monthly:,.0f}/month less)"
    binding = plan.binding
    if plan.fits or binding is None:
        return head + "; fits (`votectl plan` for details)"
    return head + f"; does not fit: {binding.component} binds first (`votectl plan`)"
