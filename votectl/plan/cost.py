"""What each component costs at a rate, from the flow and the price table.

Beyond the requests: the logs the functions still send (no platform lines, see ``measured``),
the answers sent out to clients (data in is free, and in-Region traffic between Lambda, SQS and
DynamoDB costs nothing), and the table's storage and PITR backups as they stand after one month
at this rate (they grow every month the votes stay), with its customer-managed key if any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from votectl.plan.flow import Flow, FunctionLoad, QueueLoad
from votectl.plan.prices import Prices
from votectl.plan.settings import Settings

__all__ = ["ACCESS_LOG_BYTES", "ITEM_OVERHEAD_BYTES", "SECONDS_PER_MONTH", "Cost", "costs"]

SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours
GIB = 1024**3
ACCESS_LOG_BYTES = 300  # one HTTP API access log line (JSON, about a dozen fields)
API_METER_BYTES = 512 * 1024  # HTTP API requests are metered in 512 KB increments
# DynamoDB bills storage as the items' raw bytes plus 100 bytes of indexing overhead each
# (https://aws.amazon.com/dynamodb/pricing/on-demand/, "Data storage")
ITEM_OVERHEAD_BYTES = 100
GB = 1024**3  # DynamoDB's GB is 1024^3 bytes (ServiceQuotas.html: binary units)
# DynamoDB caches a table's key and asks KMS again after about 5 minutes (EncryptionAtRest,
# "table keys"); one request per writer environment per 5 minutes is an upper estimate
KMS_SECONDS_PER_REQUEST = 300


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
    out = {"responses out": f.response_bytes_per_s / GIB * p.transfer_out_per_gb}
    if s.front_door != "http-api":
        return Cost("api", out)  # a Function URL costs nothing beyond the invocation
    meters = math.ceil(f.batch_size * vote_bytes / API_METER_BYTES)
    return Cost(
        "api",
        {
            "requests": f.requests_per_s * meters * p.http_api_per_million / 1e6,
            "access logs": f.requests_per_s * ACCESS_LOG_BYTES / GIB * p.logs_ingest_per_gb,
            **out,
        },
    )


def _table(f: Flow, s: Settings, p: Prices, vote_bytes: int) -> Cost:
    stored_gb = f.stored_items_per_s * SECONDS_PER_MONTH * (vote_bytes + ITEM_OVERHEAD_BYTES) / GB
    parts = {
        "writes": f.write_units_per_s * p.dynamodb_wru_per_million / 1e6,
        "storage": stored_gb * p.dynamodb_storage_gb_month / SECONDS_PER_MONTH,
        "backups (PITR)": stored_gb * p.dynamodb_pitr_gb_month / SECONDS_PER_MONTH,
    }
    if s.table_kms_key:
        requests = max(1.0, f.writer.concurrency) / KMS_SECONDS_PER_REQUEST
        parts["KMS key"] = (
            p.kms_key_month / SECONDS_PER_MONTH + requests * p.kms_per_10k_requests / 10_000
        )
    return Cost("table", parts)


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
        _table(f, s, p, vote_bytes),
    ]
