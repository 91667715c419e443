"""Stage settings the template carries on purpose: log levels, the rejected-votes alarm, the
table's key, the write path, and reserved concurrency on both front doors (issue 17)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from tests.unit.test_template import fake_bundle, parsed
from votectl.aws import stack
from votectl.aws.stack import stack_parameters
from votectl.config import MAX_SHARDS, RANGES, Stage
from votectl.errors import ConfigError

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def resources() -> dict[str, Any]:
    return parsed()["Resources"]


def test_every_function_logs_json_without_the_platform_lines() -> None:
    for logical, function in resources().items():
        if function["Type"] != "AWS::Lambda::Function":
            continue
        config = function["Properties"]["LoggingConfig"]
        # WARN drops START/END/REPORT (INFO); the handlers' EMF lines are INFO and stay
        assert config["LogFormat"] == "JSON" and config["SystemLogLevel"] == "WARN", logical
        assert config["ApplicationLogLevel"] == "INFO", logical
        assert config["LogGroup"] == {"Ref": logical.replace("Function", "LogGroup")}


def test_an_alarm_watches_the_rejected_votes_metric_of_both_consumers() -> None:
    alarm = resources()["RejectedVotesAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert {(m["Namespace"], m["MetricName"]) for m in stats} == {("votectl", "RejectedVotes")}
    # the dimension is the deployed function (lambdas/batch.py): this stack's, no other's
    assert [m["Dimensions"] for m in stats] == [
        [{"Name": "FunctionName", "Value": {"Ref": "ProcessorFunction"}}],
        [{"Name": "FunctionName", "Value": {"Ref": "WriterFunction"}}],
    ]
    names = [
        resources()[f]["Properties"]["FunctionName"]
        for f in ("ProcessorFunction", "WriterFunction")
    ]
    assert names == [
        {"Fn::Sub": "${AWS::StackName}-processor"},
        {"Fn::Sub": "${AWS::StackName}-writer"},
    ]
    returned = [m for m in alarm["Metrics"] if m["ReturnData"]]
    assert len(returned) == 1 and "processor" in returned[0]["Expression"]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_table_uses_the_aws_owned_key_unless_the_stage_names_one() -> None:
    sse = resources()["VotesTable"]["Properties"]["SSESpecification"]["Fn::If"]
    # no SSESpecification at all: the AWS-owned key (SSEEnabled true alone is the AWS-managed
    # key, with KMS charges)
    assert sse[0] == "CustomerKey" and sse[2] == {"Ref": "AWS::NoValue"}
    assert sse[1] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Ref": "TableKmsKey"},
    }
    assert stack_parameters(Stage(name="prod"), fake_bundle(), "b")["TableKmsKey"] == ""
    keyed = stack_parameters(Stage(name="prod", table_kms_key=KEY), fake_bundle(), "b")
    assert keyed["TableKmsKey"] == KEY


def test_the_write_path_reaches_the_writer_and_its_role_allows_both() -> None:
    writer = resources()["WriterFunction"]["Properties"]
    assert writer["Environment"]["Variables"]["WRITE_PATH"] == {"Ref": "WritePath"}
    statements = resources()["WriterRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    actions = {a for s in statements["Statement"] if "Action" in s for a in s["Action"]}
    assert {"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:UpdateItem"} <= actions
    for path in ("partiql", "classic"):
        values = stack_parameters(Stage(name="prod", write_path=path), fake_bundle(), "b")
        assert values["WritePath"] == path


@pytest.mark.parametrize("door", ["http-api", "function-url"])
def test_consumers_reserve_their_maximum_concurrency_by_default(door: str) -> None:
    stage = Stage(name="prod", front_door=door, receiver_reserved_concurrency=200)
    values = stack_parameters(stage, fake_bundle(), "b")
    for name in ("Processor", "Writer"):
        assert int(values[f"{name}ReservedConcurrency"]) >= int(values[f"{name}MaxConcurrency"])
    raised = stack_parameters(
        Stage(name="prod", front_door=door, receiver_reserved_concurrency=200,
              writer_reserved_concurrency=40),
        fake_bundle(),
        "b",
    )  # fmt: skip
    assert raised["WriterReservedConcurrency"] == "40"


def test_a_function_url_without_receiver_reserved_concurrency_is_refused() -> None:
    with pytest.raises(ConfigError, match="function-url needs receiver_reserved_concurrency"):
        stack_parameters(Stage(name="prod", front_door="function-url"), fake_bundle(), "b")


def test_every_bounded_setting_stays_within_its_template_parameter() -> None:
    """A stage setting that passes votectl's checks is never refused by the template's own
    parameter bounds (CloudFormation would refuse it only after the bundle was uploaded)."""
    params = parsed()["Parameters"]
    mapped = re.findall(r'"(\w+)": stage\.(\w+)[,\s]', inspect.getsource(stack.stack_parameters))
    assert len(mapped) > 20
    checked = 0
    for parameter, key in mapped:
        if key not in RANGES or parameter == "MessageRetentionSeconds":  # days -> seconds
            continue
        low, high = RANGES[key]
        if key == "table_shards":  # bounded with the table's throughput (config.MAX_SHARDS)
            high = MAX_SHARDS
        bounds = params[parameter]
        assert low >= bounds.get("MinValue", low), (key, low, bounds)
        if "MaxValue" in bounds:
            assert high is not None and high <= bounds["MaxValue"], (key, high, bounds)
        checked += 1
    assert checked >= 15
