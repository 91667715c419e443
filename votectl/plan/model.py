"""A plan: the flow, the checks and the costs of one stage at one rate, and what binds first."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from votectl.plan.checks import Check, checks
from votectl.plan.cost import Cost, costs
from votectl.plan.flow import Flow, flow
from votectl.plan.measured import MEASURED, Measured
from votectl.plan.prices import PRICES, Prices
from votectl.plan.settings import FRONT_DOORS, WRITE_PATHS, Settings, settings_json
from votectl.plan.writes import DEFAULT_REDELIVERY_SHARE, DEFAULT_REVOTE_SHARE, WriteUnits
from votectl.plan.zipf import DEFAULT_S, DEFAULT_TITLES, top_share

__all__ = ["COMPONENTS", "SCHEMA", "Component", "Plan", "build_plan"]

SCHEMA = "votectl.plan/2"
COMPONENTS = (
    "api",
    "receiver",
    "votes queue",
    "processor",
    "ready queue",
    "writer",
    "table",
)


@dataclass(frozen=True)
class Component:
    name: str
    needs: dict[str, float]
    checks: tuple[Check, ...]
    cost: Cost


@dataclass(frozen=True)
class FrontDoor:
    """The same plan with the other front door: what switching would cost or save."""

    front_door: str
    fits: bool
    monthly: float
    per_million_votes: float


@dataclass(frozen=True)
class WritePath:
    """The same plan on one write path: its units per vote, writer time and bill."""

    path: str
    write_units_per_vote: float
    writer_concurrency: float
    fits: bool
    monthly: float
    per_million_votes: float

    def to_json(self) -> dict[str, Any]:
        return {
            "write_path": self.path,
            "write_units_per_vote": round(self.write_units_per_vote, 4),
            "writer_concurrency": round(self.writer_concurrency, 2),
            "fits": self.fits,
            "monthly_usd": round(self.monthly, 2),
            "per_million_votes_usd": round(self.per_million_votes, 4),
        }


@dataclass(frozen=True)
class Plan:
    stage: str
    settings: Settings
    votes_per_s: float
    batch_size: int
    titles: int
    zipf_s: float
    flow: Flow
    components: tuple[Component, ...]
    measured: Measured
    prices: Prices
    alternative: FrontDoor | None
    write_paths: tuple[WritePath, ...] = ()  # both paths priced, the stage's first

    @property
    def cheaper_write_path(self) -> WritePath | None:
        """The write path with the lower bill at this rate and re-vote share."""
        return min(self.write_paths, key=lambda w: w.monthly, default=None)

    @property
    def checks(self) -> list[Check]:
        return [c for comp in self.components for c in comp.checks]

    @property
    def fits(self) -> bool:
        return all(c.fits for c in self.checks)

    def _first(self, setting: bool) -> Check | None:
        candidates = [c for c in self.checks if c.setting == setting and (c.scales or not c.fits)]
        return min(candidates, key=lambda c: c.headroom, default=None)

    @property
    def binding(self) -> Check | None:
        """The AWS quota the rate meets first: the least headroom among quotas that grow with
        the rate, or a fixed one that already fails (pipeline order breaks ties)."""
        return self._first(setting=False)

    @property
    def binding_setting(self) -> Check | None:
        """A stage setting that binds before ``binding`` (raising it is a votectl.toml edit)."""
        first, quota = self._first(setting=True), self.binding
        if first is None or (quota is not None and first.headroom >= quota.headroom):
            return None
        return first

    @property
    def fixes(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.checks:
            if not c.fits:
                seen.setdefault(c.fix, None)
        return list(seen)

    @property
    def ramp_seconds(self) -> dict[str, float]:
        """Seconds from idle to the concurrency each function needs: a function adds 1,000
        execution environments per 10 s; an SQS mapping starts at 5 and adds up to 300 a
        minute. Not a limit at a steady rate; the time a sudden peak waits in the queues."""
        f = self.flow
        return {
            "receiver": f.receiver.concurrency / 1000 * 10,
            "processor": max(0.0, f.processor.concurrency - 5) / 300 * 60,
            "writer": max(0.0, f.writer.concurrency - 5) / 300 * 60,
        }

    @property
    def monthly(self) -> float:
        return sum(c.cost.monthly for c in self.components)

    @property
    def per_million_votes(self) -> float:
        return sum(c.cost.per_million_votes(self.votes_per_s) for c in self.components)

    def to_json(self) -> dict[str, Any]:
        rate = self.votes_per_s
        binding = self.binding
        return {
            "schema": SCHEMA,
            "stage": self.stage,
            "front_door": self.settings.front_door,
            "votes_per_s": rate,
            "batch_size": self.batch_size,
            "requests_per_s": round(self.flow.requests_per_s, 3),
            "write_units": self.flow.write_units.to_json(),
            "fits": self.fits,
            "binding": _brief(binding, rate),
            "binding_setting": _brief(self.binding_setting, rate),
            "fixes": self.fixes,
            "components": [
                {
                    "name": comp.name,
                    "needs": {k: round(v, 3) for k, v in comp.needs.items()},
                    "limits": [c.to_json(rate) for c in comp.checks],
                    "cost": comp.cost.to_json(rate),
                }
                for comp in self.components
            ],
            "cost": {
                "monthly_usd": round(self.monthly, 2),
                "per_million_votes_usd": round(self.per_million_votes, 4),
                "switch": None
                if self.alternative is None
                else {
                    "front_door": self.alternative.front_door,
                    "fits": self.alternative.fits,
                    "monthly_usd": round(self.alternative.monthly, 2),
                    "per_million_votes_usd": round(self.alternative.per_million_votes, 4),
                    "saves_monthly_usd": round(self.monthly - self.alternative.monthly, 2),
                },
                "write_paths": [w.to_json() for w in self.write_paths],
                "cheaper_write_path": None
                if self.cheaper_write_path is None
                else self.cheaper_write_path.path,
            },
            "ramp_seconds": {k: round(v, 2) for k, v in self.ramp_seconds.items()},
            "popularity": {
                "titles": self.titles,
                "zipf_s": self.zipf_s,
                "top_title_share": round(self.flow.hot_title_share, 5),
            },
            "settings": settings_json(self.settings),
            "measured": self.measured.to_json(),
            "prices": self.prices.to_json(),
        }


def _brief(check: Check | None, rate: float) -> dict[str, Any] | None:
    if check is None:
        return None
    full = check.to_json(rate)
    return {"component": check.component, **{k: full[k] for k in _BRIEF}}


_BRIEF = ("limit", "kind", "need", "value", "headroom", "max_votes_per_s")


def _needs(name: str, f: Flow) -> dict[str, float]:
    if name == "api":
        return {"requests_per_s": f.requests_per_s}
    if name == "table":
        return {
            "write_units_per_vote": f.write_units.per_vote,
            "write_units_per_s": f.write_units_per_s,
            "hot_key_write_units_per_s": f.hot_key_units_per_s,
        }
    if name in ("votes queue", "ready queue"):
        q = f.votes_queue if name == "votes queue" else f.ready_queue
        return {
            "messages_per_s": q.messages_per_s,
            "message_bytes": q.message_bytes,
            "sqs_requests_per_s": q.requests_per_s,
            "in_flight": q.in_flight,
        }
    fn = {"receiver": f.receiver, "processor": f.processor, "writer": f.writer}[name]
    return {
        "invocations_per_s": fn.invocations_per_s,
        "votes_per_invocation": fn.votes_per_invocation,
        "duration_ms": fn.duration_ms,
        "concurrency": fn.concurrency,
        "memory_mb": fn.memory_mb,
    }


def build_plan(
    settings: Settings,
    votes_per_s: float,
    batch_size: int = 1,
    *,
    stage: str = "",
    titles: int = DEFAULT_TITLES,
    zipf_s: float = DEFAULT_S,
    measured: Measured = MEASURED,
    prices: Prices = PRICES,
    revote_share: float = DEFAULT_REVOTE_SHARE,
    redelivery_share: float = DEFAULT_REDELIVERY_SHARE,
    compare: bool = True,
) -> Plan:
    """The plan for ``settings`` at ``votes_per_s``, sent ``batch_size`` votes a request, with
    ``revote_share`` of the votes re-votes and ``redelivery_share`` written twice."""
    units = WriteUnits(settings.write_path, revote_share, redelivery_share)
    f = flow(settings, votes_per_s, batch_size, measured, top_share(titles, zipf_s), units)
    found = checks(f, settings, measured)
    priced = costs(f, settings, prices, measured.vote_bytes)
    components = tuple(
        Component(
            name,
            _needs(name, f),
            tuple(c for c in found if c.component == name),
            next(c for c in priced if c.component == name),
        )
        for name in COMPONENTS
    )
    plan = Plan(
        stage,
        settings,
        votes_per_s,
        batch_size,
        titles,
        zipf_s,
        f,
        components,
        measured,
        prices,
        None,
    )
    if not compare:
        return plan

    def other(**change: Any) -> Plan:
        return build_plan(
            replace(settings, **change),
            votes_per_s,
            batch_size,
            stage=stage,
            titles=titles,
            zipf_s=zipf_s,
            measured=measured,
            prices=prices,
            revote_share=revote_share,
            redelivery_share=redelivery_share,
            compare=False,
        )

    door = next(d for d in FRONT_DOORS if d != settings.front_door)
    change: dict[str, Any] = {"front_door": door}
    if door == "function-url" and not settings.receiver_reserved_concurrency:
        # a Function URL is refused without a reserved receiver: reserve what this rate needs
        receiver = f.receiver
        change["receiver_reserved_concurrency"] = max(
            1, math.ceil(max(receiver.concurrency, receiver.invocations_per_s / 10) - 1e-9)
        )
    alt = other(**change)
    paths = [plan] + [other(write_path=w) for w in WRITE_PATHS if w != settings.write_path]
    return replace(
        plan,
        alternative=FrontDoor(door, alt.fits, alt.monthly, alt.per_million_votes),
        write_paths=tuple(
            WritePath(
                p.settings.write_path,
                p.flow.write_units.per_vote,
                p.flow.writer.concurrency,
                p.fits,
                p.monthly,
                p.per_million_votes,
            )
            for p in paths
        ),
    )
