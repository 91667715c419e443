"""The stack: its template and parameters, and reading a deployed stack back by logical id.

Resources are resolved through ListStackResources, which works on AWS and on emulators alike
(moto returns no ``Outputs`` for a stack created through a change set).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from votectl.aws.bundle import Bundle
from votectl.aws.session import Aws, aws_errors
from votectl.config import Stage, validate
from votectl.errors import ConfigError, ResourceMissing, UsageError

__all__ = [
    "OUTPUTS",
    "QUEUES",
    "DeployedStack",
    "read_stack",
    "stack_parameters",
    "template_body",
]

# queue name -> (logical id, is a DLQ, its source queue)
QUEUES = {
    "votes": ("VotesQueue", False, None),
    "votes-dlq": ("VotesDlq", True, "votes"),
    "ready": ("ReadyQueue", False, None),
    "ready-dlq": ("ReadyDlq", True, "ready"),
}
# output key -> logical id whose physical id is the output's value
OUTPUTS = {
    "VotesQueueUrl": "VotesQueue",
    "ReadyQueueUrl": "ReadyQueue",
    "VotesDlqUrl": "VotesDlq",
    "ReadyDlqUrl": "ReadyDlq",
    "TableName": "VotesTable",
    "AlarmTopicArn": "AlarmTopic",
}
FUNCTIONS = {
    "receiver": "ReceiverFunction",
    "processor": "ProcessorFunction",
    "writer": "WriterFunction",
}
# python3.11 bundles (for tests on a 3.11 host) but deploys no more: Lambda blocks creating
# python3.11 functions since 2026-07-31 (cfn-lint's runtime lifecycle data, W1030).
DEPLOYABLE_RUNTIMES = ("python3.12", "python3.13", "python3.14")


def template_body() -> str:
    return resources.files("votectl.aws").joinpath("template.yaml").read_text()


def check_stage(stage: Stage) -> None:
    """Refuse stages the AWS target cannot deploy, before anything reaches AWS."""
    if stage.is_local:
        raise UsageError(
            "stage 'local' is the embedded target; there is nothing to deploy",
            hint="pass --stage NAME for a stage defined in votectl.toml",
        )
    validate(stage)  # AWS's own limits (a Stage built in code has not met load_stage)
    if stage.runtime not in DEPLOYABLE_RUNTIMES:
        raise ConfigError(
            f"stage {stage.name!r}: Lambda no longer creates {stage.runtime} functions",
            hint=f"set runtime to one of {', '.join(DEPLOYABLE_RUNTIMES)} "
            "(see docs/deploying.md, 'Stages')",
        )
    consumer = max(stage.processor_timeout, stage.writer_timeout)
    if stage.visibility_timeout < 6 * consumer:
        raise ConfigError(
            f"stage {stage.name!r}: visibility_timeout {stage.visibility_timeout}s is less than"
            f" 6x the consumer timeout ({consumer}s)",
            hint=f"set visibility_timeout to at least {6 * consumer}",
        )
    _check_auth(stage)
    for name in ("processor", "writer"):
        reserved = getattr(stage, f"{name}_reserved_concurrency")
        maximum = getattr(stage, f"{name}_max_concurrency")
        if 0 < reserved < maximum:
            raise ConfigError(
                f"stage {stage.name!r}: {name}_reserved_concurrency {reserved} is below"
                f" {name}_max_concurrency {maximum}; the event source would be throttled",
                hint=f"reserve at least {maximum}, or 0 for none",
            )
        size, window = getattr(stage, f"{name}_batch_size"), getattr(stage, f"{name}_batch_window")
        if size > 10 and window < 1:
            raise ConfigError(
                f"stage {stage.name!r}: {name}_batch_size {size} needs {name}_batch_window >= 1",
                hint="SQS event sources take more than 10 records only with a batching window",
            )


def _check_auth(stage: Stage) -> None:
    """API Gateway's JWT authorizer needs an https issuer (it fetches the JWKS from its OIDC
    discovery document) and an audience."""
    if any("," in origin for origin in stage.cors_origins):
        raise ConfigError(f"stage {stage.name!r}: a cors_origins entry contains a comma")
    if stage.auth != "jwt":
        return
    if stage.front_door != "http-api":  # a Function URL has no JWT authorizer
        raise ConfigError(
            f"stage {stage.name!r}: auth jwt needs front_door http-api (its JWT authorizer)",
            hint="a Lambda Function URL cannot verify JWTs; use the HTTP API front door",
        )
    if not (stage.jwt_issuer or "").startswith("https://") or not stage.jwt_audience:
        raise ConfigError(
            f"stage {stage.name!r}: auth jwt needs jwt_issuer (an https URL) and jwt_audience",
            hint="set them in votectl.toml; keys come from the issuer's JWKS, not from files",
        )


def stack_parameters(stage: Stage, bundle: Bundle, bucket: str) -> dict[str, str]:
    """Template parameters from the stage settings and the uploaded zips."""
    check_stage(stage)
    keys = {a.function: a.s3_key for a in bundle.artifacts}
    values: dict[str, Any] = {
        "ArtifactsBucket": bucket,
        "ReceiverKey": keys["receiver"],
        "ProcessorKey": keys["processor"],
        "WriterKey": keys["writer"],
        "Architecture": stage.architecture,
        "Runtime": stage.runtime,
        "ReceiverMemory": stage.receiver_memory,
        "ProcessorMemory": stage.processor_memory,
        "WriterMemory": stage.writer_memory,
        "ReceiverReservedConcurrency": stage.reserved("receiver"),
        "ProcessorReservedConcurrency": stage.reserved("processor"),
        "WriterReservedConcurrency": stage.reserved("writer"),
        "ReceiverTimeout": stage.receiver_timeout,
        "ProcessorTimeout": stage.processor_timeout,
        "WriterTimeout": stage.writer_timeout,
        "ProcessorBatchSize": stage.processor_batch_size,
        "ProcessorBatchWindow": stage.processor_batch_window,
        "ProcessorMaxConcurrency": stage.processor_max_concurrency,
        "WriterBatchSize": stage.writer_batch_size,
        "WriterBatchWindow": stage.writer_batch_window,
        "WriterMaxConcurrency": stage.writer_max_concurrency,
        "VisibilityTimeout": stage.visibility_timeout,
        "MaxReceiveCount": stage.max_receive_count,
        "MessageRetentionSeconds": stage.message_retention_days * 86_400,
        "ThrottleRate": stage.throttle_rate,
        "ThrottleBurst": stage.throttle_burst,
        "LogRetentionDays": stage.log_retention_days,
        "TableShards": stage.table_shards,
        "TableWarmWriteUnits": stage.table_warm_write_units,
        "TableWarmReadUnits": stage.table_warm_read_units,
        "TableMaxWriteUnits": stage.table_max_write_units,
        "TableDeletionProtection": "true" if stage.table_deletion_protection else "false",
        "TableKmsKey": stage.table_kms_key or "",
        "WritePath": stage.write_path,
        "AlarmEmail": stage.alarm_email or "",
        "FrontDoor": stage.front_door,
        "Auth": stage.auth,
        "JwtIssuer": stage.jwt_issuer or "",
        "JwtAudience": stage.jwt_audience or "",
        "CorsOrigins": ",".join(stage.cors_origins),
    }
    return {k: str(v) for k, v in values.items()}


@dataclass(frozen=True)
class DeployedStack:
    """A stack as deployed: status, parameters and logical id -> physical id."""

    name: str
    status: str
    parameters: dict[str, str]
    resources: dict[str, str]
    outputs: dict[str, str]
    region: str

    def physical(self, logical_id: str) -> str:
        value = self.resources.get(logical_id)
        if not value:
            raise ResourceMissing(f"stack {self.name} has no {logical_id}")
        return value

    def endpoint_url(self) -> str | None:
        if self.outputs.get("EndpointUrl"):
            return self.outputs["EndpointUrl"]
        api = self.resources.get("HttpApi")
        return f"https://{api}.execute-api.{self.region}.amazonaws.com" if api else None

    def output_values(self) -> dict[str, str | None]:
        """The template's Outputs, rebuilt from resources where the endpoint left them out."""
        values: dict[str, str | None] = {"EndpointUrl": self.endpoint_url()}
        for key, logical in OUTPUTS.items():
            values[key] = self.outputs.get(key) or self.resources.get(logical)
        return values


def read_stack(aws: Aws) -> DeployedStack:
    """The stage's stack, or StackNotFound."""
    cfn = aws.client("cloudformation")
    name = aws.stage.stack_name
    with aws_errors(f"reading stack {name}", aws.stage):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        found: dict[str, str] = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
            for summary in page["StackResourceSummaries"]:
                found[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    return DeployedStack(
        name=name,
        status=stack["StackStatus"],
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        },
        resources=found,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        region=aws.region,
    )
