"""The AWS target against moto: deploy, no-op, dry run, ops, redrive, destroy; the CLI end to end.

moto's CloudFormation skips AWS::ApiGatewayV2::* and AWS::CloudWatch::Alarm (it logs "No Moto
CloudFormation support"), so the endpoint URL is not reported here; everything else is real.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambdas import writer
from lambdas.adapters import DynamoVoteTable
from lambdas.contract import Vote, pack
from votectl.aws.deploy import Change, Hooks, StackEvent, artifacts_bucket, deploy, destroy
from votectl.aws.ops import AwsOperations
from votectl.aws.session import Aws
from votectl.aws.stack import DeployedStack
from votectl.config import Stage
from votectl.errors import StackNotFound, UsageError

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

STAGE = Stage(name="dev", region="us-east-1")
# `python -m votectl` in another cwd must still run this tree's code, not an installed copy
THIS_TREE = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}


class Recorder(Hooks):
    """Hooks that answer ``answer`` and remember what the pipeline showed."""

    def __init__(self, answer: bool = True) -> None:
        super().__init__(sleep=self._no_sleep, poll_seconds=0)
        self.shown: list[Sequence[Change]] = []
        self.events: list[StackEvent] = []
        self.confirm = self._confirm
        self.on_event = self.events.append
        self.answer = answer

    def _confirm(self, changes: Sequence[Change]) -> bool:
        self.shown.append(changes)
        return self.answer

    @staticmethod
    def _no_sleep(seconds: float) -> None:
        raise AssertionError("moto settles at once; nothing should wait")


@pytest.fixture
def aws(mocked_aws: None, wheel_cache: Path) -> Aws:
    return Aws(STAGE)


@pytest.fixture
def deployed(aws: Aws, tmp_path: Path) -> Aws:
    result = deploy(aws, Recorder(), out_dir=tmp_path / "dist")
    assert result.outcome == "deployed"
    return aws


def test_deploy_creates_the_stack_and_a_second_deploy_is_a_no_op(aws: Aws, tmp_path: Path) -> None:
    hooks = Recorder()
    first = deploy(aws, hooks, out_dir=tmp_path / "dist")
    assert first.outcome == "deployed"
    assert {c.action for c in hooks.shown[0]} == {"add"}
    added = {c.logical_id for c in hooks.shown[0]}
    assert {"VotesQueue", "VotesDlq", "VotesTable", "WriterEvents", "WriterRole"} <= added
    # moto reports stack-level events only; AWS adds one per resource
    assert ("votectl-dev", "CREATE_COMPLETE") in [(e.logical_id, e.status) for e in hooks.events]
    assert first.outputs["TableName"] and first.outputs["VotesQueueUrl"].endswith(
        first.outputs["VotesQueueUrl"].rsplit("/", 1)[-1]
    )
    assert all(first.outputs[k] for k in ("VotesDlqUrl", "ReadyQueueUrl", "ReadyDlqUrl"))

    s3 = aws.client("s3")
    bucket = artifacts_bucket(STAGE, aws.account_id(), "us-east-1")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {a.s3_key for a in first.artifacts}

    again = Recorder()
    second = deploy(aws, again, out_dir=tmp_path / "dist")
    assert (second.outcome, second.changes, again.shown) == ("no-op", (), [])
    assert second.outputs["TableName"] == first.outputs["TableName"]


def test_dry_run_and_decline_change_nothing_then_an_update_applies(
    deployed: Aws, tmp_path: Path
) -> None:
    bigger = Aws(Stage(name="dev", region="us-east-1", writer_memory=2048))
    lam = deployed.client("lambda")
    cfn = deployed.client("cloudformation")

    dry = deploy(bigger, Recorder(), out_dir=tmp_path, dry_run=True)
    assert dry.outcome == "dry-run"  # moto lists no Changes for a parameter-only update
    pending = cfn.list_change_sets(StackName="votectl-dev")["Summaries"]
    assert [s for s in pending if s["ExecutionStatus"] == "AVAILABLE"] == []
    memory = STAGE.writer_memory
    assert lam.get_function_configuration(FunctionName="votectl-dev-writer")["MemorySize"] == memory

    declined = deploy(bigger, Recorder(answer=False), out_dir=tmp_path)
    assert declined.outcome == "declined"
    assert lam.get_function_configuration(FunctionName="votectl-dev-writer")["MemorySize"] == memory

    applied = deploy(bigger, Recorder(), out_dir=tmp_path)
    assert applied.outcome == "deployed"
    assert lam.get_function_configuration(FunctionName="votectl-dev-writer")["MemorySize"] == 2048


def test_a_dry_run_of_a_first_deploy_leaves_no_stack(aws: Aws, tmp_path: Path) -> None:
    result = deploy(aws, Recorder(), out_dir=tmp_path, dry_run=True)
    assert result.outcome == "dry-run" and result.changes
    with pytest.raises(StackNotFound):
        AwsOperations(STAGE, aws).queue_stats()


def test_destroy_keeps_the_bucket_unless_purged(deployed: Aws) -> None:
    kept = destroy(deployed, Recorder())
    assert kept.deleted and kept.bucket_kept and kept.table_kept
    with pytest.raises(StackNotFound):
        destroy(deployed, Recorder())
    deployed.client("s3").head_bucket(Bucket=kept.bucket)  # still there
    purged = destroy(deployed, Recorder(), purge=True)
    assert (purged.deleted, purged.bucket_kept) == (False, False)
    names = {b["Name"] for b in deployed.client("s3").list_buckets()["Buckets"]}
    assert kept.bucket not in names


def test_deploy_refuses_the_local_stage(aws: Aws) -> None:
    with pytest.raises(UsageError, match="embedded target"):
        deploy(Aws(Stage()), Recorder())


# --- operations -------------------------------------------------------------------------


def pause_pipeline(aws: Aws) -> None:
    """Disable the event source mappings, so messages stay where the test puts them."""
    lam = aws.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)


def test_queue_stats_and_redrive_fall_back_to_receive_send_delete(deployed: Aws) -> None:
    pause_pipeline(deployed)
    ops = AwsOperations(STAGE, deployed, sleep=lambda s: None)
    sqs = deployed.client("sqs")
    dlq = ops.stack.physical("VotesDlq")
    for n in range(13):
        sqs.send_message(QueueUrl=dlq, MessageBody=f'{{"votes":[],"n":{n}}}')

    stats = {s.name: s for s in ops.queue_stats()}
    assert [s.name for s in stats.values()] == ["votes", "votes-dlq", "ready", "ready-dlq"]
    assert (stats["votes-dlq"].visible, stats["votes-dlq"].dlq) == (13, True)
    assert stats["votes-dlq"].source == "votes" and stats["votes"].visible == 0

    seen: list[tuple[str, int, int | None]] = []
    result = ops.redrive(queue="votes", on_progress=lambda *a: seen.append(a))
    assert (result.method, result.moved) == ("receive-send-delete", 13)
    assert seen[-1] == ("votes-dlq -> votes", 13, 13)
    stats = {s.name: s for s in ops.queue_stats()}
    assert (stats["votes-dlq"].visible, stats["votes"].visible) == (0, 13)
    with pytest.raises(UsageError, match="nothing to cancel"):
        ops.redrive(cancel=True)
    with pytest.raises(UsageError, match="unknown queue"):
        ops.redrive(queue="nope")


def test_table_count_and_results_after_the_writer_runs(deployed: Aws) -> None:
    ops = AwsOperations(STAGE, deployed)
    # moto implements PutItem's conditions, not PartiQL's (tests/unit/test_partiql.py)
    name = ops.stack.physical("VotesTable")
    table = DynamoVoteTable(name, shards=STAGE.table_shards, path="classic")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    votes = [Vote(f"u{i}", "t1", "story", 1 + i % 5, at) for i in range(50)]
    votes += [Vote(f"u{i}", "t2", "acting", 5, at) for i in range(7)]
    record = {"messageId": "m1", "body": pack(votes)[0].decode(), "attributes": {}}
    assert writer.make_handler(table)({"Records": [record]}) == {"batchItemFailures": []}

    approximate = ops.table_count()
    assert (approximate.exact, approximate.age_seconds) == (False, None)
    progress: list[tuple[str, int, int | None]] = []
    exact = ops.table_count(exact=True, on_progress=lambda *a: progress.append(a))
    assert (exact.count, exact.exact) == (57, True)
    assert progress and progress[-1][1] == 57

    results = ops.results("t1").to_json()
    assert results["aspects"]["story"]["votes"] == 50
    assert results["aspects"]["story"]["scores"] == {str(s): 10 for s in range(1, 6)}
    assert ops.results("t2").aspects["acting"].mean == 5.0


def test_redrive_uses_move_tasks_where_the_endpoint_has_them(aws_env: dict[str, str]) -> None:
    """moto has no move tasks: botocore's Stubber plays SQS here."""
    client = boto3.client("sqs", region_name="us-east-1")
    base = "https://sqs.us-east-1.amazonaws.com/1/"
    arn = "arn:aws:sqs:us-east-1:1:"
    stack = DeployedStack(
        "votectl-dev",
        "CREATE_COMPLETE",
        {},
        {"VotesQueue": base + "votes", "VotesDlq": base + "votes-dlq"},
        {},
        "us-east-1",
    )

    class StubAws(Aws):
        def client(self, service: str) -> Any:
            assert service == "sqs"
            return client

    waits: list[float] = []
    ops = AwsOperations(STAGE, StubAws(STAGE), sleep=waits.append, poll_seconds=0.5)
    ops.__dict__["stack"] = stack

    def task(status: str, moved: int) -> dict[str, Any]:
        return {
            "TaskHandle": "h1",
            "Status": status,
            "SourceArn": arn + "votes-dlq",
            "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": 10,
        }

    with Stubber(client) as stub:
        for name in ("votes-dlq", "votes"):
            stub.add_response(
                "get_queue_attributes",
                {"Attributes": {"QueueArn": arn + name}},
                {"QueueUrl": base + name, "AttributeNames": ["QueueArn"]},
            )
        stub.add_response("list_message_move_tasks", {"Results": []})
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "h1"},
            {
                "SourceArn": arn + "votes-dlq",
                "DestinationArn": arn + "votes",
                "MaxNumberOfMessagesPerSecond": 50,
            },
        )
        stub.add_response("list_message_move_tasks", {"Results": [task("RUNNING", 3)]})
        stub.add_response("list_message_move_tasks", {"Results": [task("COMPLETED", 10)]})
        seen: list[tuple[str, int, int | None]] = []
        result = ops.redrive("votes-dlq", 50, on_progress=lambda *a: seen.append(a))
        stub.assert_no_pending_responses()
    assert (result.method, result.moved, result.queues[0].status) == ("move-task", 10, "COMPLETED")
    assert seen == [("votes-dlq -> votes", 3, 10), ("votes-dlq -> votes", 10, 10)]
    assert waits == [0.5]

    with Stubber(client) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn + "votes-dlq"}})
        stub.add_response("list_message_move_tasks", {"Results": [task("RUNNING", 4)]})
        stub.add_response(
            "cancel_message_move_task",
            {"ApproximateNumberOfMessagesMoved": 4},
            {"TaskHandle": "h1"},
        )
        cancelled = ops.redrive("votes", cancel=True)
        stub.assert_no_pending_responses()
    assert (cancelled.moved, cancelled.queues[0].status) == (4, "CANCELLED")
    with pytest.raises(UsageError, match="1-500"):
        ops.redrive(max_per_second=501)


# --- the CLI against a moto server ------------------------------------------------------


def test_cli_deploy_status_ops_and_destroy(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    deployed = cli("deploy", *target, "--yes", "--json")
    assert "per million votes" in " ".join(deployed.stderr.split())  # the plan's cost line
    first = json.loads(deployed.stdout)
    assert first["outcome"] == "deployed"
    assert {c["action"] for c in first["changes"]} == {"add"}
    assert json.loads(cli("deploy", *target, "--yes", "--json").stdout)["outcome"] == "no-op"

    status = json.loads(cli("status", *target, "--json").stdout)
    assert status["status"] == "CREATE_COMPLETE"
    hashes = {a["function"]: a["sha256"] for a in first["artifacts"]}
    assert {f["name"]: f["code_sha256"] for f in status["functions"]} == hashes
    assert [q["name"] for q in status["queues"]] == ["votes", "votes-dlq", "ready", "ready-dlq"]
    human = cli("status", *target).stdout
    assert "CREATE_COMPLETE" in human
    assert not [line for line in human.splitlines() if "┃" in line and not line.strip("┃ ")]
    assert "`votectl table count --exact` counts" in " ".join(human.split())

    stats = json.loads(cli("queue", "stats", *target, "--json").stdout)
    assert {q["name"] for q in stats["queues"]} == {"votes", "votes-dlq", "ready", "ready-dlq"}
    count = json.loads(cli("table", "count", *target, "--exact", "--json").stdout)
    assert (count["count"], count["exact"]) == (0, True)
    redrive = json.loads(cli("redrive", *target, "--json").stdout)
    assert (redrive["method"], redrive["moved"]) == ("receive-send-delete", 0)

    gone = json.loads(cli("destroy", *target, "--yes", "--json").stdout)
    assert (gone["deleted"], gone["bucket_kept"]) == (True, True)
    missing = cli("status", *target, code=1)
    assert "does not exist" in missing.stderr and "hint:" in missing.stderr
    # the hint is the command to type, for this stage on this endpoint
    assert f"`votectl deploy --stage dev --endpoint-url {moto_url}`" in missing.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("deploy", "--yes"), 2, "embedded target"),
        (("deploy", "--stage", "no_pe", "--yes"), 2, "cannot name a stack"),
        (("deploy", "--stage", "dev"), 2, "pass --yes"),
        (("status", "--stage", "dev", "--endpoint-url", "http://127.0.0.1:9"), 1, "cannot reach"),
        (("bundle", "--arch", "sparc"), 2, "--arch"),
    ],
)
def test_cli_bad_input_is_one_line_and_a_hint(
    cli: Any, args: tuple[str, ...], code: int, words: str
) -> None:
    done = cli(*args, code=code)
    assert words in done.stderr
    assert done.stderr.count("error:") == 1
