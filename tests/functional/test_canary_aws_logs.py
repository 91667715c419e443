"""On AWS a failed canary shows the function's CloudWatch log lines for its correlation id: a
canary run over the AWS operations (moto's SQS and CloudWatch Logs), with a probe whose vote
is accepted but never stored."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.functional.test_aws_write_units import STAGE, operations
from votectl.aws.stack import FUNCTIONS
from votectl.canary import CanaryFailed, run_canary
from votectl.probe import Sent, Stored

CANARY_ID = "CANARYREQ0000001"


class AcceptedNeverStored:
    """The front door answers 202 with the canary's correlation id; the table never has it."""

    via, door, default_write_path = "http", "https://example.invalid", "unknown"

    def __init__(self) -> None:
        self.notes: list[str] = []

    def send(self, body: bytes, user_id: str) -> Sent:
        return Sent(202, {"request_id": CANARY_ID}, CANARY_ID)

    def read(self, user_id: str, title_id: str, aspect: str) -> Stored | None:
        return None

    def delete(self, user_id: str, title_id: str, aspect: str) -> None:
        raise AssertionError("nothing was stored, nothing to delete")


def log_line(function: str, message: str, **fields: Any) -> dict[str, Any]:
    """A line of the handlers' JSON log (lambdas/log.py), as CloudWatch Logs stores it."""
    line = {"level": "WARNING", "function": function, "message": message, **fields}
    return {"timestamp": int(time.time() * 1000), "message": json.dumps(line)}


def test_a_failed_canary_on_aws_shows_the_writers_lines_for_its_correlation_id(
    mocked_aws: None,
) -> None:
    ops = operations()
    for function, logical in FUNCTIONS.items():
        ops.stack.resources[logical] = f"votectl-{STAGE.name}-{function}"
    logs = boto3.client("logs", region_name="us-east-1")
    group = f"/aws/lambda/votectl-{STAGE.name}-writer"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    ours = log_line("writer", "table write failed", correlation_ids=[CANARY_ID])
    other = log_line("writer", "batch written", correlation_ids=["SOMEONEELSE00001"])
    other["message"] = other["message"].replace("WARNING", "INFO")
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[other, ours])
    ops.__dict__["probe"] = lambda token: AcceptedNeverStored()

    with pytest.raises(CanaryFailed) as failed:
        run_canary(ops, timeout=0.5)
    result = failed.value.result
    # accepted, never stored, queues empty and no DLQ grew: the table hop, read through the writer
    assert (result.ok, result.hop) == (False, "table")
    assert result.votes[0].correlation_id == CANARY_ID
    assert any(CANARY_ID in line and "table write failed" in line for line in result.logs), (
        result.logs
    )
    assert not any("SOMEONEELSE00001" in line for line in result.logs)
