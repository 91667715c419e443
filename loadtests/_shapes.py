"""Load shapes as plans: steady, step and spike, scaled by the usual -u, -r and -t.

A plan is a list of stages; ``tick`` answers Locust's question "how many users now?". Pure, so
the shapes are unit-tested without a runner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SHAPES", "Stage", "plan", "tick"]

SHAPES = ("none", "steady", "step", "spike")
STEPS = 4


@dataclass(frozen=True)
class Stage:
    until: float  # seconds since the start
    users: int
    spawn_rate: float


def plan(shape: str, users: int, spawn_rate: float, duration: float) -> list[Stage]:
    """steady: ramp to ``users`` and hold. step: four equal steps up to ``users``.
    spike: a fifth of ``users`` for 40 %, all of them (spawned at once) for 20 %, back to a fifth.
    """
    if users < 1 or spawn_rate <= 0 or duration <= 0:
        raise ValueError("a shape needs users >= 1, spawn rate > 0 and a duration > 0")
    if shape == "steady":
        return [Stage(duration, users, spawn_rate)]
    if shape == "step":
        return [
            Stage(duration * (i + 1) / STEPS, math.ceil(users * (i + 1) / STEPS), spawn_rate)
            for i in range(STEPS)
        ]
    if shape == "spike":
        base = max(1, users // 5)
        return [
            Stage(duration * 0.4, base, spawn_rate),
            Stage(duration * 0.6, users, max(spawn_rate, float(users))),
            Stage(duration, base, max(spawn_rate, float(users))),
        ]
    raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")


def tick(stages: list[Stage], run_time: float) -> tuple[int, float] | None:
    """(users, spawn rate) at ``run_time``, or None when the plan is over (Locust stops)."""
    for stage in stages:
        if run_time < stage.until:
            return stage.users, stage.spawn_rate
    return None
