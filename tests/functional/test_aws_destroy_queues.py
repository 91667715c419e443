"""`votectl destroy` refuses while a queue or DLQ holds messages (they would go with the stack),
names each one and its depth, and deletes them only with --force; `votectl deploy` warns when
the alarms reach nobody. Against moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional import test_aws_deploy as shared
from tests.functional.test_aws_protection import server_client
from votectl.aws.deploy import destroy
from votectl.aws.destroy import queue_depths
from votectl.aws.session import Aws
from votectl.aws.stack import read_stack
from votectl.errors import QueuesNotEmpty, StackNotFound

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

aws, deployed, Recorder = shared.aws, shared.deployed, shared.Recorder


def send(aws: Aws, logical: str, n: int) -> None:
    url = read_stack(aws).physical(logical)
    for i in range(n):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}))


def test_empty_queues_are_destroyed_without_force(deployed: Aws) -> None:
    assert set(queue_depths(deployed, read_stack(deployed)).values()) == {0}
    assert destroy(deployed, Recorder()).deleted


def test_held_messages_stop_destroy_and_name_each_queue(deployed: Aws) -> None:
    send(deployed, "VotesDlq", 3)
    send(deployed, "ReadyQueue", 2)
    depths = queue_depths(deployed, read_stack(deployed))
    assert depths == {"votes": 0, "votes-dlq": 3, "ready": 2, "ready-dlq": 0}

    with pytest.raises(QueuesNotEmpty) as caught:
        destroy(deployed, Recorder())
    message = str(caught.value)
    assert "5 message(s) still queued (votes-dlq 3, ready 2)" in message
    assert "--force" in caught.value.hint and caught.value.exit_code == 1
    assert read_stack(deployed).status.endswith("COMPLETE")  # nothing deleted

    forced = destroy(deployed, Recorder(), force=True)
    assert forced.deleted
    with pytest.raises(StackNotFound):
        read_stack(deployed)


def test_cli_refuses_before_asking_and_force_destroys(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    outputs = json.loads(cli("deploy", *target, "--yes", "--json").stdout)["outputs"]
    server_client(moto_url, "sqs").send_message(QueueUrl=outputs["ReadyDlqUrl"], MessageBody="x")

    refused = cli("destroy", *target, "--yes", code=1)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    said = " ".join(refused.stderr.split())
    assert "1 message(s) still queued (ready-dlq 1)" in said
    assert any(line.startswith("hint:") for line in lines) and "--force" in said
    assert refused.stderr.count("error:") == 1
    server_client(moto_url, "cloudformation").describe_stacks(StackName="votectl-dev")

    forced = json.loads(cli("destroy", *target, "--yes", "--force", "--json").stdout)
    assert forced["deleted"] is True


def test_cli_deploy_warns_when_no_one_gets_the_alarms(
    cli: Any, moto_url: str, tmp_path: Path
) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url, "--dry-run")
    silent = cli("deploy", *target)
    warning = "sets no alarm_email"
    assert warning in " ".join(silent.stderr.split())
    assert "rejected votes" in " ".join(silent.stderr.split())
    (tmp_path / "votectl.toml").write_text(
        '[stages.dev]\nregion = "us-east-1"\nalarm_email = "ops@example.org"\n'
    )
    subscribed = cli("deploy", *target)
    assert warning not in " ".join(subscribed.stderr.split())
