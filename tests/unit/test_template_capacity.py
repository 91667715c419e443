"""The template's capacity, data protection, alerting and front door."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.test_template import fake_bundle, parsed
from votectl.aws.stack import stack_parameters
from votectl.config import Stage
from votectl.errors import ConfigError


def resources() -> dict[str, Any]:
    return parsed()["Resources"]


def of_type(kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources().items() if v["Type"] == kind}


def alarms() -> dict[str, Any]:
    return of_type("AWS::CloudWatch::Alarm")


def dimension_refs(alarm: dict[str, Any]) -> set[str]:
    """Logical ids an alarm's dimensions point at."""
    found = set()
    for dimension in alarm["Properties"].get("Dimensions", []):
        value = dimension["Value"]
        if isinstance(value, dict):
            found.add(value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0])
    return found


# --- data protection --------------------------------------------------------------------


def test_the_table_is_retained_and_protected_by_default() -> None:
    table = resources()["VotesTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert table["Properties"]["DeletionProtectionEnabled"] == {
        "Fn::If": ["ProtectTable", True, False]
    }
    assert parsed()["Parameters"]["TableDeletionProtection"]["Default"] == "true"
    values = stack_parameters(Stage(name="prod"), fake_bundle(), "bucket")
    assert values["TableDeletionProtection"] == "true"
    off = Stage(name="prod", table_deletion_protection=False)
    assert stack_parameters(off, fake_bundle(), "bucket")["TableDeletionProtection"] == "false"


def test_every_queue_keeps_messages_14_days() -> None:
    queues = of_type("AWS::SQS::Queue")
    assert set(queues) == {"VotesQueue", "VotesDlq", "ReadyQueue", "ReadyDlq"}
    for name in ("VotesDlq", "ReadyDlq"):
        assert queues[name]["Properties"]["MessageRetentionPeriod"] == 1209600
    for name in ("VotesQueue", "ReadyQueue"):
        assert queues[name]["Properties"]["MessageRetentionPeriod"] == {
            "Ref": "MessageRetentionSeconds"
        }
    assert parsed()["Parameters"]["MessageRetentionSeconds"]["Default"] == 1209600
    values = stack_parameters(Stage(name="prod"), fake_bundle(), "bucket")
    assert values["MessageRetentionSeconds"] == str(14 * 86400)


# --- alerting ---------------------------------------------------------------------------


def test_every_alarm_notifies_the_alarm_topic() -> None:
    found = alarms()
    assert len(found) >= 15
    for name, alarm in found.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    subscription = resources()["AlarmEmailSubscription"]
    assert subscription["Condition"] == "EmailAlarms"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    values = stack_parameters(Stage(name="prod", alarm_email="ops@example.org"), fake_bundle(), "b")
    assert values["AlarmEmail"] == "ops@example.org"
    assert stack_parameters(Stage(name="prod"), fake_bundle(), "b")["AlarmEmail"] == ""


def test_an_alarm_on_every_dlq_function_table_and_front_door() -> None:
    watched: dict[str, set[str]] = {}
    for alarm in alarms().values():
        for logical in dimension_refs(alarm):
            watched.setdefault(logical, set()).add(alarm["Properties"].get("MetricName"))
    for dlq in ("VotesDlq", "ReadyDlq"):
        assert "ApproximateNumberOfMessagesVisible" in watched[dlq]
        assert "ApproximateAgeOfOldestMessage" in watched[dlq]
    for queue in ("VotesQueue", "ReadyQueue"):
        assert "ApproximateAgeOfOldestMessage" in watched[queue]
    for function in of_type("AWS::Lambda::Function"):
        assert {"Errors", "Throttles"} <= watched[function], function
    assert {"WriteThrottleEvents", "ReadThrottleEvents"} <= watched["VotesTable"]
    assert "5xx" in watched["HttpApi"]
    assert "Url5xxCount" in watched["ReceiverFunction"]


def test_the_alarm_check_catches_a_missing_alarm() -> None:
    template = parsed()
    del template["Resources"]["WriterThrottlesAlarm"]
    names = {
        a["Properties"].get("MetricName")
        for a in template["Resources"].values()  # (RejectedVotes, a metric math alarm, has none)
        if a["Type"] == "AWS::CloudWatch::Alarm" and "WriterFunction" in dimension_refs(a)
    }
    assert "Throttles" not in names


def test_the_http_api_logs_every_request_as_json() -> None:
    stage = resources()["HttpApiStage"]["Properties"]
    settings = stage["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    fields = json.loads(settings["Format"])
    assert {"requestId", "status", "routeKey", "ip", "integrationError"} <= set(fields)
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"
    group = resources()["HttpApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# --- capacity ---------------------------------------------------------------------------


def test_each_function_has_its_memory_runtime_and_optional_reserved_concurrency() -> None:
    for logical, function in of_type("AWS::Lambda::Function").items():
        name = logical.removesuffix("Function")
        properties = function["Properties"]
        assert properties["MemorySize"] == {"Ref": f"{name}Memory"}
        assert properties["Runtime"] == {"Ref": "Runtime"}
        assert properties["ReservedConcurrentExecutions"] == {
            "Fn::If": [
                f"Reserve{name}",
                {"Ref": f"{name}ReservedConcurrency"},
                {"Ref": "AWS::NoValue"},
            ]
        }
    stage = Stage(
        name="prod", receiver_memory=384, receiver_reserved_concurrency=300, runtime="python3.13"
    )
    values = stack_parameters(stage, fake_bundle(), "bucket")
    assert (values["ReceiverMemory"], values["ProcessorMemory"]) == ("384", "512")
    # processor and writer reserve their MaximumConcurrency unless set higher (issue 17)
    assert (values["ReceiverReservedConcurrency"], values["WriterReservedConcurrency"]) == (
        "300",
        str(stage.writer_max_concurrency),
    )
    assert values["Runtime"] == "python3.13"


def test_the_table_is_prewarmed_and_optionally_capped() -> None:
    properties = resources()["VotesTable"]["Properties"]
    warm = properties["WarmThroughput"]["Fn::If"]
    assert warm[0] == "WarmTable" and warm[2] == {"Ref": "AWS::NoValue"}
    assert warm[1]["WriteUnitsPerSecond"]["Fn::If"][1] == {"Ref": "TableWarmWriteUnits"}
    assert properties["OnDemandThroughput"]["Fn::If"][1] == {
        "MaxWriteRequestUnits": {"Ref": "TableMaxWriteUnits"}
    }
    values = stack_parameters(Stage(name="prod"), fake_bundle(), "bucket")
    assert (values["TableWarmWriteUnits"], values["TableMaxWriteUnits"]) == ("40000", "0")
    assert values["WriterMaxConcurrency"] == str(Stage().writer_max_concurrency)


def test_the_writer_may_requeue_to_the_ready_queue_only() -> None:
    writer = resources()["WriterFunction"]["Properties"]
    assert writer["Environment"]["Variables"]["READY_QUEUE_URL"] == {"Ref": "ReadyQueue"}
    statements = resources()["WriterRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    sends = [s for s in statements if s.get("Action") == "sqs:SendMessage"]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": ["ReadyQueue", "Arn"]}]


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"runtime": "python3.11"}, "no longer creates python3.11"),
        ({"writer_reserved_concurrency": 10}, "writer_reserved_concurrency 10 is below"),
    ],
)
def test_settings_lambda_would_refuse_stop_before_aws(settings: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        stack_parameters(Stage(name="prod", **settings), fake_bundle(), "bucket")


# --- front door -------------------------------------------------------------------------


def test_the_front_door_is_the_http_api_or_the_function_url() -> None:
    template = parsed()
    api = {
        k for k, v in template["Resources"].items() if v["Type"].startswith("AWS::ApiGatewayV2::")
    }
    assert {"HttpApi", "HttpApiStage", "VotesRoute", "ReceiverIntegration"} <= api
    # the JWT authorizer's condition JwtAuth includes UseHttpApi (tests/unit/test_template_auth.py)
    plain = api - {"JwtAuthorizer"}
    for logical in plain | {"ReceiverInvokePermission", "HttpApiAccessLogGroup", "HttpApi5xxAlarm"}:
        assert template["Resources"][logical]["Condition"] == "UseHttpApi", logical
    url = template["Resources"]["ReceiverUrl"]
    assert url["Condition"] == "UseFunctionUrl" and url["Properties"]["AuthType"] == "NONE"
    permissions = {
        template["Resources"][k]["Properties"]["Action"]
        for k in ("ReceiverUrlPermission", "ReceiverUrlInvokePermission")
    }
    assert permissions == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert template["Outputs"]["EndpointUrl"]["Value"] == {
        "Fn::If": [
            "UseHttpApi",
            {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]},
            {"Fn::GetAtt": ["ReceiverUrl", "FunctionUrl"]},
        ]
    }
    assert template["Conditions"]["UseFunctionUrl"] == {
        "Fn::Equals": [{"Ref": "FrontDoor"}, "function-url"]
    }
    door = Stage(name="prod", front_door="function-url", receiver_reserved_concurrency=300)
    assert stack_parameters(door, fake_bundle(), "bucket")["FrontDoor"] == "function-url"
