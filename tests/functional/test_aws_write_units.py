"""`votectl watch` on AWS shows the writer's consumed write units per vote: the writer's EMF
metrics (namespace votectl, dimension TableName) read back from CloudWatch, in moto."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from lambdas import writer
from lambdas.writes import WriteReport
from votectl.aws.ops import AwsOperations
from votectl.aws.session import Aws
from votectl.aws.stack import QUEUES, DeployedStack
from votectl.cli.render import watch_view
from votectl.config import Stage
from votectl.watch import Sample, WatchState

STAGE = Stage(name="dev", region="us-east-1")


def operations() -> AwsOperations:
    sqs = boto3.client("sqs", region_name="us-east-1")
    resources = {"VotesTable": "votectl-dev-votes"}
    for name, (logical, _, _) in QUEUES.items():
        resources[logical] = sqs.create_queue(QueueName=f"votectl-dev-{name}")["QueueUrl"]
    ops = AwsOperations(STAGE, Aws(STAGE))
    stack = DeployedStack("votectl-dev", "CREATE_COMPLETE", {}, resources, {}, "us-east-1")
    ops.__dict__["stack"] = stack  # the stack as read_stack would find it
    return ops


def put_emf(line: dict[str, Any]) -> None:
    """What CloudWatch Logs does with an EMF line on Lambda: the named metrics, stored."""
    directive = line["_aws"]["CloudWatchMetrics"][0]
    [dimensions] = directive["Dimensions"]
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
        Namespace=directive["Namespace"],
        MetricData=[
            {
                "MetricName": m["Name"],
                "Dimensions": [{"Name": d, "Value": line[d]} for d in dimensions],
                "Value": line[m["Name"]],
                "Unit": m["Unit"],
                # a minute or two back: a whole one-minute period, as watch reads them
                "Timestamp": datetime.fromtimestamp(time.time() - 90, UTC),
            }
            for m in directive["Metrics"]
        ],
    )


def test_watch_shows_consumed_write_units_per_vote(
    mocked_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = operations()
    assert ops.pulse().write_units_per_vote is None  # no writer has run yet
    writer.emf_writes(WriteReport("votectl-dev-votes", "partiql", 1000, 1100.0, 0, 40))
    writer.emf_writes(WriteReport("votectl-other-votes", "partiql", 10, 20.0, 0, 1))
    for line in capsys.readouterr().out.splitlines():
        put_emf(json.loads(line))
    pulse = ops.pulse()
    assert pulse.write_units_per_vote == pytest.approx(1.1)  # this stage's table only
    state = WatchState()
    state.add(Sample(0.0, ops.queue_stats(), 0, pulse))
    assert "write units/vote: 1.10" in str(watch_view(state, "dev").renderables[1])
