"""``--chaos STAGE=FRACTION``: make a stage fail that fraction of its invocations."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from votectl.errors import UsageError

__all__ = ["STAGES", "ChaosFailure", "chaotic", "parse_chaos"]

STAGES = ("receiver", "processor", "writer")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class ChaosFailure(RuntimeError):
    """The failure --chaos injected; the runtime treats it as the handler raising."""


def parse_chaos(specs: list[str]) -> dict[str, float]:
    chaos: dict[str, float] = {}
    for spec in specs:
        stage, sep, value = spec.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or stage not in STAGES or not 0.0 <= fraction <= 1.0:
            raise UsageError(
                f"bad --chaos {spec!r}",
                hint=f"use STAGE=FRACTION, STAGE one of {', '.join(STAGES)}, 0 <= FRACTION <= 1",
            )
        chaos[stage] = fraction
    return chaos


def chaotic(
    stage: str, handler: Handler, fraction: float, rng: random.Random | None = None
) -> Handler:
    """``handler``, raising ChaosFailure before it runs in ``fraction`` of the calls."""
    if fraction <= 0:
        return handler
    draw = (rng or random.Random()).random

    def maybe_fail(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        if draw() < fraction:
            raise ChaosFailure(f"--chaos {stage}={fraction}: injected failure")
        return handler(event, context)

    return maybe_fail
