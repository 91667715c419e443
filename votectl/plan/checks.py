"""The limits that apply to each component at a rate: account quotas as AWS documents them,
and the stage's own settings. Each check knows what to change when the rate does not fit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from votectl.plan.flow import Flow, FunctionLoad, QueueLoad
from votectl.plan.measured import Measured
from votectl.plan.settings import Settings

__all__ = ["HEADROOM", "QUOTAS", "Check", "checks"]

# The table's limits are planned with 20 % headroom: on-demand tables throttle on sudden
# doubling (warm-throughput.html) and a re-vote share above the plan's costs more units.
HEADROOM = 1.2

# Default quotas (per account and Region unless said otherwise), with the page that states them.
QUOTAS: dict[str, tuple[int, str]] = {
    "api_throttle": (
        10_000,
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    "lambda_concurrency": (
        1_000,
        "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    ),
    "lambda_unreserved_minimum": (
        100,
        "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html",
    ),
    "lambda_rps_per_concurrency": (
        10,
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html",
    ),
    "esm_max_concurrency": (
        1_000,
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    ),
    "sqs_in_flight": (
        120_000,
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    ),
    "table_write": (
        40_000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html",
    ),
    "new_table_write": (
        4_000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html",
    ),
    "partition_write": (
        1_000,
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
    ),
}


def _q(name: str) -> int:
    return QUOTAS[name][0]


@dataclass(frozen=True)
class Check:
    component: str
    limit: str
    unit: str
    need: float
    value: float
    scales: bool  # the need grows with the rate (else: holds or fails at any rate)
    fix: str
    source: str
    setting: bool = False  # the value is the stage's own (votectl.toml), not an AWS quota
    margin: float = 1.0  # the headroom it must keep: need x margin <= value

    @property
    def headroom(self) -> float:
        return math.inf if self.need <= 0 else self.value / self.need

    @property
    def fits(self) -> bool:
        return self.need * self.margin <= self.value * (1 + 1e-9)

    def max_votes_per_s(self, votes_per_s: float) -> float | None:
        """The highest rate this limit holds, its margin kept."""
        if not self.scales or self.need <= 0:
            return None
        return votes_per_s * self.headroom / self.margin

    def to_json(self, votes_per_s: float) -> dict[str, Any]:
        headroom = self.headroom
        return {
            "limit": self.limit,
            "kind": "setting" if self.setting else "quota",
            "unit": self.unit,
            "need": round(self.need, 3),
            "value": round(self.value, 3),
            "headroom": None if math.isinf(headroom) else round(headroom, 4),
            "headroom_required": self.margin,
            "fits": self.fits,
            "max_votes_per_s": _round(self.max_votes_per_s(votes_per_s)),
            "fix": None if self.fits else self.fix,
            "source": self.source,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _up(value: float) -> int:
    return math.ceil(value - 1e-9)


def _api(f: Flow, s: Settings) -> list[Check]:
    if s.front_door != "http-api":
        return []  # a Function URL has no gateway throttle: the receiver's concurrency bounds it
    quota, url = QUOTAS["api_throttle"]
    need = f.requests_per_s
    batch = _up(f.votes_per_s / quota)
    return [
        Check(
            "api",
            "API Gateway throttle (account, Region)",
            "requests/s",
            need,
            quota,
            True,
            f"request an API Gateway throttle quota increase to {_up(need):,} requests/s,"
            f" or send >= {batch} votes a request",
            url,
        ),
        Check(
            "api",
            "stage throttle_rate",
            "requests/s",
            need,
            s.throttle_rate,
            True,
            f"raise throttle_rate to {_up(need):,}",
            "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html",
            setting=True,
        ),
    ]


def _reserved(fn: FunctionLoad, s: Settings) -> int:
    return s.reserved(fn.name)


def _lambda(fns: list[FunctionLoad], s: Settings, f: Flow, m: Measured) -> list[Check]:
    out: list[Check] = []
    account, account_url = s.account_concurrency, QUOTAS["lambda_concurrency"][1]
    reserved = {fn.name: _reserved(fn, s) for fn in fns}
    pool = account - sum(reserved.values())
    shared = [fn for fn in fns if reserved[fn.name] == 0]
    shared_need = sum(fn.concurrency for fn in shared)
    for fn in fns:
        own = reserved[fn.name]
        explicit = int(getattr(s, f"{fn.name}_reserved_concurrency"))
        # (a consumer's default reservation is its MaximumConcurrency, checked with it below)
        if own and explicit:
            out.append(
                Check(
                    fn.name,
                    f"{fn.name}_reserved_concurrency",
                    "concurrent",
                    fn.concurrency,
                    own,
                    True,
                    f"raise {fn.name}_reserved_concurrency to {_up(fn.concurrency):,}",
                    QUOTAS["lambda_unreserved_minimum"][1],
                    setting=True,
                )
            )
        elif not own:
            share = pool * fn.concurrency / shared_need if shared_need else pool
            out.append(
                Check(
                    fn.name,
                    "Lambda concurrency (Region, shared)",
                    "concurrent",
                    fn.concurrency,
                    max(0.0, share),
                    True,
                    "request a Lambda concurrency quota increase to"
                    f" {_up(sum(reserved.values()) + shared_need + 100):,}, then set"
                    " account_concurrency to it",
                    account_url,
                )
            )
        if fn.name == "receiver":
            per, url = QUOTAS["lambda_rps_per_concurrency"]
            cap = per * (own or account)
            fix = (
                f"raise receiver_reserved_concurrency to {_up(fn.invocations_per_s / per):,}"
                if own
                else "request a Lambda concurrency quota increase to"
                f" {_up(fn.invocations_per_s / per):,} (it sets the invocation rate too),"
                " then set account_concurrency to it"
            )
            out.append(
                Check(
                    "receiver",
                    f"Lambda invocations ({per}/s per concurrency)",
                    "invocations/s",
                    fn.invocations_per_s,
                    cap,
                    True,
                    fix + f", or send >= {_up(f.votes_per_s / cap)} votes a request",
                    url,
                )
            )
        else:
            out.extend(_consumer(fn, s, m))
    unreserved_min, url = QUOTAS["lambda_unreserved_minimum"]
    if sum(reserved.values()):
        biggest = max(reserved, key=lambda name: reserved[name])
        out.append(
            Check(
                biggest,
                f"reserved concurrency in total (Lambda keeps {unreserved_min} unreserved)",
                "concurrent",
                sum(reserved.values()),
                account - unreserved_min,
                False,
                f"lower the reserved concurrency to {account - unreserved_min:,} in total,"
                " or request a Lambda concurrent executions quota increase",
                url,
                setting=True,
            )
        )
    return out


def _consumer(fn: FunctionLoad, s: Settings, m: Measured) -> list[Check]:
    """The limits of a function behind an SQS event source mapping."""
    name = fn.name
    cap = int(getattr(s, f"{name}_max_concurrency"))
    esm_max, esm_url = QUOTAS["esm_max_concurrency"]
    need = _up(fn.concurrency)
    fix = (
        f"raise {name}_max_concurrency to {need:,}"
        if need <= esm_max
        else f"MaximumConcurrency stops at {esm_max:,}: raise {name}_memory"
        f" (the {name} needs {need:,} concurrent)"
    )
    timeout = int(getattr(s, f"{name}_timeout"))
    figures = getattr(m, name)
    rate = figures.votes_per_s(int(getattr(s, f"{name}_memory")))
    fit_votes = (timeout / 2 * 1000 - figures.overhead_ms) * rate / 1000
    fit_records = max(1, math.floor(fit_votes / fn.record_votes))
    return [
        Check(
            name,
            f"{name}_max_concurrency (MaximumConcurrency)",
            "concurrent",
            fn.concurrency,
            cap,
            True,
            fix,
            esm_url,
            setting=True,
        ),
        Check(
            name,
            f"full batch within half {name}_timeout",
            "s",
            fn.full_batch_ms / 1000,
            timeout / 2,
            False,
            f"lower {name}_batch_size to {fit_records:,}, or raise {name}_memory",
            "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html",
            setting=True,
        ),
    ]


def _queue(q: QueueLoad, consumer: str) -> Check:
    quota, url = QUOTAS["sqs_in_flight"]
    return Check(
        q.name,
        "SQS in-flight messages (about)",
        "messages",
        q.in_flight,
        quota,
        True,
        f"lower {consumer}_batch_window or {consumer}_batch_size",
        url,
    )


def _table(f: Flow, s: Settings) -> list[Check]:
    """The table's write limits, each kept with ``HEADROOM``: the write units per vote count
    re-votes and redeliveries (``writes``), so a re-vote no longer eats the margin."""
    url = QUOTAS["table_write"][1]
    new, warm_url = QUOTAS["new_table_write"]
    need = f.write_units_per_s
    planned = _up(need * HEADROOM)
    raise_quota = (
        f"request a DynamoDB table-level write throughput quota increase to {planned:,} WRU/s"
        f" (Service Quotas), then set table_write_quota = {planned:,}"
        f" and table_warm_write_units = {planned:,}"
    )
    warm = max(new, s.table_warm_write_units)
    warm_fix = (
        f"set table_warm_write_units = {planned:,}"
        if planned <= s.table_write_quota
        else raise_quota
    )
    out = [
        Check(
            "table",
            "table write quota (per table)",
            "WRU/s",
            need,
            s.table_write_quota,
            True,
            raise_quota,
            url,
            margin=HEADROOM,
        ),
        Check(
            "table",
            "warm throughput (new on-demand table)"
            if s.table_warm_write_units <= new
            else "table_warm_write_units",
            "WRU/s",
            need,
            warm,
            True,
            warm_fix,
            warm_url,
            setting=s.table_warm_write_units > new,
            margin=HEADROOM,
        ),
    ]
    if s.table_max_write_units > 0:
        out.append(
            Check(
                "table",
                "table_max_write_units (OnDemandThroughput)",
                "WRU/s",
                need,
                s.table_max_write_units,
                True,
                f"raise table_max_write_units to {planned:,} (or 0: no cap)",
                "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html",
                setting=True,
                margin=HEADROOM,
            )
        )
    per, part_url = QUOTAS["partition_write"]
    shards = _up(s.table_shards * f.hot_key_units_per_s / per)
    out.append(
        Check(
            "table",
            "partition (hottest shard key)",
            "WCU/s",
            f.hot_key_units_per_s,
            per,
            True,
            f"raise table_shards to {shards} (on a new table only: see 'Table key design')",
            part_url,
        )
    )
    return out


def checks(f: Flow, s: Settings, m: Measured) -> list[Check]:
    """Every check, in pipeline order."""
    fns = [f.receiver, f.processor, f.writer]
    by_fn = _lambda(fns, s, f, m)
    ordered = [
        *_api(f, s),
        *[c for c in by_fn if c.component == "receiver"],
        _queue(f.votes_queue, "processor"),
        *[c for c in by_fn if c.component == "processor"],
        _queue(f.ready_queue, "writer"),
        *[c for c in by_fn if c.component == "writer"],
        *_table(f, s),
    ]
    return ordered
