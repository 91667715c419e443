"""AWS list prices the cost model uses: one table, with the date it was checked and its sources.

US East (N. Virginia), first pricing tier, no free tier. Volume tiers (HTTP API above 300M
requests a month, Lambda above 6B GB-s, SQS above 100B requests, Logs above 10 TB) only lower
the bill, so a plan at first-tier prices is an upper bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PRICES", "Prices"]


@dataclass(frozen=True)
class Prices:
    region: str
    checked: str  # ISO date the figures were last compared with their sources
    http_api_per_million: float  # requests, metered in 512 KB increments
    lambda_request_per_million: float
    lambda_gb_s: dict[str, float]  # by architecture
    sqs_per_million: float  # standard queue; each 64 KiB chunk of a payload is one request
    dynamodb_wru_per_million: float  # on-demand, 1 KB per write request unit
    logs_ingest_per_gb: float  # CloudWatch Logs, standard class (Lambda: the first 10 TB tier)
    dynamodb_storage_gb_month: float  # Standard table class, past the free 25 GB
    dynamodb_pitr_gb_month: float  # continuous backups (PITR), by the table's size
    transfer_out_per_gb: float  # data transfer out to the internet (first 10 TB a month)
    kms_key_month: float  # one customer-managed KMS key
    kms_per_10k_requests: float
    sources: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sources"] = list(self.sources)
        return data


PRICES = Prices(
    region="us-east-1",
    checked="2026-11-27",
    http_api_per_million=1.00,
    lambda_request_per_million=0.20,
    lambda_gb_s={"arm64": 0.0000133334, "x86_64": 0.0000166667},
    sqs_per_million=0.40,
    dynamodb_wru_per_million=0.625,
    logs_ingest_per_gb=0.50,
    dynamodb_storage_gb_month=0.25,
    dynamodb_pitr_gb_month=0.20,
    transfer_out_per_gb=0.09,  # in is free; between Lambda, SQS and DynamoDB in-Region too
    kms_key_month=1.00,
    kms_per_10k_requests=0.03,
    sources=(
        "https://aws.amazon.com/api-gateway/pricing/",
        "https://aws.amazon.com/lambda/pricing/",
        "https://aws.amazon.com/sqs/pricing/",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "https://aws.amazon.com/cloudwatch/pricing/",
        "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
        "https://aws.amazon.com/kms/pricing/",
    ),
)
