"""The CloudFormation template: clean under cfn-lint, least-privilege IAM, sane queue timeouts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode.decode import decode_str

from votectl.aws.bundle import Artifact, Bundle
from votectl.aws.stack import stack_parameters, template_body
from votectl.config import Stage
from votectl.errors import ConfigError

BODY = template_body()


def parsed() -> dict[str, Any]:
    template, matches = decode_str(BODY)
    assert not matches and template is not None
    return copy.deepcopy(dict(template))


def test_cfn_lint_finds_nothing() -> None:
    assert [str(m) for m in lint(BODY, regions=["us-east-1", "eu-west-1"])] == []


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy's statements, both branches of a conditional (Fn::If) one included."""
    found: list[dict[str, Any]] = []
    for statement in document["Statement"]:
        branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
        found.extend(b for b in branches if b != {"Ref": "AWS::NoValue"})
    return found


def wildcards(template: dict[str, Any]) -> list[str]:
    """Every IAM statement whose Action has a * or whose Resource is not one of the stack's own
    (the stage's own customer key, parameter TableKmsKey, counts as its own)."""
    own = set(template["Resources"]) | {"TableKmsKey"}
    problems = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        properties = resource["Properties"]
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        if "PolicyDocument" in properties:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in _statements(document):
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    if "*" in action:
                        problems.append(f"{logical}: action {action}")
                resources = statement["Resource"]
                for target in resources if isinstance(resources, list) else [resources]:
                    if not isinstance(target, dict) or not _names_own(target, own):
                        problems.append(f"{logical}: resource {target}")
    return problems


def _names_own(target: dict[str, Any], own: set[str]) -> bool:
    if "Fn::GetAtt" in target:
        return target["Fn::GetAtt"][0] in own
    if "Ref" in target:
        return target["Ref"] in own
    return False


def test_no_iam_wildcards_and_resources_are_the_stacks_own() -> None:
    assert wildcards(parsed()) == []


@pytest.mark.parametrize(
    ("statement", "found"),
    [
        (
            {
                "Effect": "Allow",
                "Action": "sqs:*",
                "Resource": {"Fn::GetAtt": ["VotesQueue", "Arn"]},
            },
            "action",
        ),
        ({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}, "resource"),
        (
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::other/*"},
            "resource",
        ),
    ],
)
def test_the_wildcard_check_catches_a_wildcard(statement: dict[str, Any], found: str) -> None:
    template = parsed()
    policy = template["Resources"]["WriterRole"]["Properties"]["Policies"][0]
    policy["PolicyDocument"]["Statement"].append(statement)
    problems = wildcards(template)
    assert len(problems) == 1 and found in problems[0]


def test_one_role_per_function_and_logs_scoped_to_its_own_group() -> None:
    resources = parsed()["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(functions) == 3 and len(set(roles)) == 3
    for logical, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        logs = [s for s in statements if "logs:PutLogEvents" in s.get("Action", ())]
        assert logs[0]["Resource"] == {
            "Fn::GetAtt": [logical.replace("Function", "LogGroup"), "Arn"]
        }


def test_queues_outlive_their_consumers_and_batches_report_failures() -> None:
    template = parsed()
    resources, defaults = (
        template["Resources"],
        {k: v.get("Default") for k, v in template["Parameters"].items()},
    )
    consumers = {"VotesQueue": "ProcessorTimeout", "ReadyQueue": "WriterTimeout"}
    for queue, timeout in consumers.items():
        properties = resources[queue]["Properties"]
        assert properties["VisibilityTimeout"] == {"Ref": "VisibilityTimeout"}
        assert defaults["VisibilityTimeout"] >= 6 * defaults[timeout]
        assert properties["SqsManagedSseEnabled"] is True
        assert "deadLetterTargetArn" in properties["RedrivePolicy"]
    for mapping in ("ProcessorEvents", "WriterEvents"):
        properties = resources[mapping]["Properties"]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "MaximumConcurrency" in properties["ScalingConfig"]
    assert set(template["Outputs"]) == {
        "EndpointUrl", "VotesQueueUrl", "ReadyQueueUrl", "VotesDlqUrl", "ReadyDlqUrl", "TableName",
        "AlarmTopicArn",
    }  # fmt: skip


def fake_bundle() -> Bundle:
    return Bundle(
        "python3.14",
        "arm64",
        tuple(Artifact(f, f"{f}.zip", 1, f[0] * 64) for f in ("receiver", "processor", "writer")),
    )


def test_parameters_come_from_the_stage_and_match_the_template() -> None:
    values = stack_parameters(Stage(name="prod", writer_memory=1024), fake_bundle(), "bucket")
    assert set(values) == set(parsed()["Parameters"]) - {"OldestMessageAlarmSeconds"}
    assert values["WriterMemory"] == "1024" and values["WriterKey"].endswith("w" * 64 + ".zip")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"visibility_timeout": 100}, "6x"),
        ({"writer_batch_size": 50, "writer_batch_window": 0}, "batch_window"),
        ({"name": "bad_name"}, "cannot name a stack"),
    ],
)
def test_stage_settings_aws_would_reject_are_refused_early(
    settings: dict[str, Any], words: str
) -> None:
    stage = Stage(**{"name": "prod", **settings})
    with pytest.raises(ConfigError, match=words):
        stack_parameters(stage, fake_bundle(), "bucket")


def test_the_template_ships_as_package_data() -> None:
    import votectl.aws

    assert (Path(votectl.aws.__file__).parent / "template.yaml").read_text() == BODY
