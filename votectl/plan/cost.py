"""What each component costs at a rate, from the flow and the price table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from votectl.plan.flow import Flow, FunctionLoad, QueueLoad
from votectl.plan.prices import Prices
from votectl.plan.settings import Settings

__all__ = ["ACCESS_LOG_BYTES", "SECONDS_PER_MONTH", "Cost", "costs"]

SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours
GIB = 1024**3
ACCESS_LOG_BYTES = 300  # one HTTP API access log line (JSON, about a dozen fields)
API_METER_BYTES = 512 * 1024  # HTTP API requests are metered in 512 KB increments


@dataclass(frozen=True)
class Cost:
    component: str
    parts: dict[str, float]  # USD per second, by what is billed

    @property
    def usd_per_s(self) -> float:
        return sum(self.parts.values())

    @property
    def monthly(self) -> float:
        return self.usd_per_s * SECONDS_PER_MONTH

    def per_million_votes(self, votes_per_s: float) -> float:
        return self.usd_per_s / votes_per_s * 1e6

    def to_json(self, votes_per_s: float) -> dict[str, Any]:
        return {
            "monthly_usd": round(self.monthly, 2),
            "per_million_votes_usd": round(self.per_million_votes(votes_per_s), 4),
            "monthly_by_item_usd": {
                k: round(v * SECONDS_PER_MONTH, 2) for k, v in self.parts.items()
            },
        }


def _api(f: Flow, s: Settings, p: Prices, vote_bytes: int) -> Cost:
    if s.front_door != "http-api":
        return Cost("api", {})  # a Function URL costs nothing beyond the invocation
    meters = math.ceil(f.batch_size * vote_bytes / API_METER_BYTES)
    return Cost(
        "api",
        {
            "requests": f.requests_per_s * meters * p.http_api_per_million / 1e6,
            "access logs": f.requests_per_s * ACCESS_LOG_BYTES / GIB * p.logs_ingest_per_gb,
        },
    )


def _function(fn: FunctionLoad, s: Settings, p: Prices) -> Cost:
    billed_s = math.ceil(fn.duration_ms) / 1000.0  # 1 ms billing
    return Cost(
        fn.name,
        {
            "requests": fn.invocations_per_s * p.lambda_request_per_million / 1e6,
            "duration": fn.invocations_per_s
            * billed_s
            * fn.memory_mb
            / 1024
            * p.lambda_gb_s[s.architecture],
            "logs": fn.log_bytes_per_s / GIB * p.logs_ingest_per_gb,
        },
    )


def _queue(q: QueueLoad, p: Prices) -> Cost:
    per = p.sqs_per_million / 1e6
    return Cost(
        q.name,
        {
            "send": q.send_requests_per_s * per,
            "receive": q.receive_requests_per_s * per,
            "delete": q.delete_requests_per_s * per,
        },
    )


def costs(f: Flow, s: Settings, p: Prices, vote_bytes: int) -> list[Cost]:
    """One cost per component, in pipeline order."""
    return [
        _api(f, s, p, vote_bytes),
        _function(f.receiver, s, p),
        _queue(f.votes_queue, p),
        _function(f.processor, s, p),
        _queue(f.ready_queue, p),
        _function(f.writer, s, p),
        Cost("table", {"writes": f.write_units_per_s * p.dynamodb_wru_per_million / 1e6}),
    ]
