"""The votes outlive the stack: a retained table, `destroy --delete-data`, the table_shards guard.

Against moto (in-process and as a server for the CLI). moto honours DeletionPolicy Retain and
DeletionProtectionEnabled, so both are checked here against real API behaviour.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.functional import test_aws_deploy as shared
from votectl.aws.deploy import deploy, destroy
from votectl.aws.retained import delete_table
from votectl.aws.session import Aws
from votectl.aws.stack import read_stack
from votectl.config import Stage
from votectl.errors import ConfigError, StackNotFound

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

# the AWS fixtures of test_aws_deploy, shared
aws, deployed = shared.aws, shared.deployed
Recorder, THIS_TREE = shared.Recorder, shared.THIS_TREE

ITEM = {"pk": {"S": "t1#3"}, "sk": {"S": "u1#story"}, "score": {"N": "4"}}


def table_of(aws: Aws) -> str:
    return read_stack(aws).physical("VotesTable")


def test_destroy_keeps_the_table_and_its_votes(deployed: Aws) -> None:
    table = table_of(deployed)
    ddb = deployed.client("dynamodb")
    assert ddb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    ddb.put_item(TableName=table, Item=ITEM)

    kept = destroy(deployed, Recorder())
    assert (kept.deleted, kept.table, kept.table_kept) == (True, table, True)
    with pytest.raises(StackNotFound):
        read_stack(deployed)
    assert ddb.scan(TableName=table)["Items"] == [ITEM]
    with pytest.raises(ClientError, match="DeletionProtectionEnabled"):
        ddb.delete_table(TableName=table)

    # the stack is gone: --delete-data finds the table it left behind by name
    gone = destroy(deployed, Recorder(), delete_data=True)
    assert (gone.deleted, gone.table, gone.table_kept) == (False, table, False)
    assert table not in ddb.list_tables()["TableNames"]
    with pytest.raises(StackNotFound):
        destroy(deployed, Recorder())  # nothing left to delete


def test_delete_data_deletes_the_tables_every_earlier_stack_left(
    deployed: Aws, tmp_path: Path
) -> None:
    """deploy, destroy, deploy, destroy: two kept tables (a deploy after a destroy makes a new
    one); --delete-data deletes both, not whichever the listing names first."""
    first = table_of(deployed)
    destroy(deployed, Recorder())
    assert deploy(deployed, Recorder(), out_dir=tmp_path / "dist").outcome == "deployed"
    second = table_of(deployed)
    assert second != first
    kept = destroy(deployed, Recorder())
    assert (kept.table, kept.table_kept, kept.older_tables) == (second, True, [first])

    gone = destroy(deployed, Recorder(), delete_data=True)
    assert (gone.table, gone.table_kept, gone.older_tables) == (second, False, [first])
    names = deployed.client("dynamodb").list_tables()["TableNames"]
    assert first not in names and second not in names


def test_destroy_lists_the_kept_tables_once_and_skips_one_deleted_meanwhile(
    deployed: Aws, tmp_path: Path
) -> None:
    """With no stack left, `destroy --delete-data` lists the stage's tables once; a table
    another client deletes between that listing and its describe is skipped, not an error."""
    first = table_of(deployed)
    destroy(deployed, Recorder())
    deploy(deployed, Recorder(), out_dir=tmp_path / "dist")
    second = table_of(deployed)
    destroy(deployed, Recorder())  # two kept tables now, and no stack
    ddb = deployed.client("dynamodb")
    other = Aws(deployed.stage)  # clients of its own
    calls: list[str] = []
    ddb.meta.events.register("before-call.dynamodb.ListTables", lambda **_: calls.append("list"))

    def delete_first_once(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == first and "deleted" not in calls:
            calls.append("deleted")
            delete_table(other, first, Recorder())  # another client, on the same account

    ddb.meta.events.register("before-parameter-build.dynamodb.DescribeTable", delete_first_once)
    gone = destroy(deployed, Recorder(), delete_data=True)
    assert calls.count("list") == 1 and "deleted" in calls
    assert (gone.table, gone.table_kept, gone.older_tables) == (second, False, [])
    assert ddb.list_tables()["TableNames"] == []


def test_destroy_delete_data_removes_stack_and_table_at_once(deployed: Aws) -> None:
    result = destroy(deployed, Recorder(), delete_data=True, purge=True)
    assert (result.deleted, result.table_kept, result.bucket_kept) == (True, False, False)
    assert result.table and result.table.startswith("votectl-dev-VotesTable-")
    assert deployed.client("dynamodb").list_tables()["TableNames"] == []


def test_unprotected_tables_are_deleted_without_the_update(aws: Aws, tmp_path: Path) -> None:
    stage = Stage(name="dev", region="us-east-1", table_deletion_protection=False)
    deploy(Aws(stage), Recorder(), out_dir=tmp_path)
    table = table_of(aws)
    assert (
        aws.client("dynamodb").describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"]
        is False
    )
    steps: list[str] = []
    hooks = Recorder()
    hooks.on_step = steps.append
    destroy(Aws(stage), hooks, delete_data=True)
    assert steps[-1] == f"deleting table {table}"
    assert not any("deletion protection" in s for s in steps)


def test_table_shards_may_change_while_the_table_is_empty(deployed: Aws, tmp_path: Path) -> None:
    more = Aws(Stage(name="dev", region="us-east-1", table_shards=20))
    assert deploy(more, Recorder(), out_dir=tmp_path).outcome == "deployed"
    assert read_stack(deployed).parameters["TableShards"] == "20"


def test_table_shards_change_on_a_table_with_votes_is_refused_before_any_write(
    deployed: Aws, tmp_path: Path
) -> None:
    deployed.client("dynamodb").put_item(TableName=table_of(deployed), Item=ITEM)
    hooks = Recorder()
    steps: list[str] = []
    hooks.on_step = steps.append
    more = Aws(Stage(name="dev", region="us-east-1", table_shards=20))
    with pytest.raises(ConfigError, match=r"table_shards 10 -> 20 .* holds votes") as caught:
        deploy(more, hooks, out_dir=tmp_path / "new")
    assert "keep table_shards = 10" in caught.value.hint
    assert (steps, hooks.shown) == ([], [])  # not even bundled
    assert not (tmp_path / "new").exists()


# --- the CLI against a moto server ------------------------------------------------------


def server_client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def test_cli_refuses_a_shard_change_with_votes_and_changes_nothing(
    cli: Any, moto_url: str, tmp_path: Path
) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    first = json.loads(cli("deploy", *target, "--yes", "--json").stdout)
    table = first["outputs"]["TableName"]
    server_client(moto_url, "dynamodb").put_item(TableName=table, Item=ITEM)
    cfn = server_client(moto_url, "cloudformation")
    before = cfn.describe_stacks(StackName="votectl-dev")["Stacks"][0]

    (tmp_path / "votectl.toml").write_text(
        '[stages.dev]\nregion = "us-east-1"\ntable_shards = 16\n'
    )
    refused = cli("deploy", *target, "--yes", code=2)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert "table_shards 10 -> 16" in refused.stderr and "holds votes" in refused.stderr
    assert any(line.startswith("hint:") and "keep table_shards = 10" in line for line in lines)
    assert refused.stderr.count("error:") == 1

    after = cfn.describe_stacks(StackName="votectl-dev")["Stacks"][0]
    assert after["Parameters"] == before["Parameters"]
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
    summaries = cfn.list_change_sets(StackName="votectl-dev")["Summaries"]
    assert [s for s in summaries if s["ExecutionStatus"] == "AVAILABLE"] == []
    env = server_client(moto_url, "lambda").get_function_configuration(
        FunctionName="votectl-dev-writer"
    )["Environment"]["Variables"]
    assert str(env["TABLE_SHARDS"]) == "10"  # moto keeps the Number parameter as an int


def run_in_terminal(args: list[str], cwd: Path, answers: str) -> tuple[int, str]:
    """Run votectl with a terminal on stdin (it asks only there) and type ``answers``."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1", **THIS_TREE}
    proc = subprocess.Popen(
        [sys.executable, "-m", "votectl", *args],
        cwd=cwd,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(terminal)
    os.write(controller, answers.encode())
    try:
        out, errors = proc.communicate(timeout=120)
    finally:
        os.close(controller)
    assert "Traceback" not in errors
    return proc.returncode, out + errors


def test_cli_delete_data_asks_twice(cli: Any, moto_url: str, tmp_path: Path) -> None:
    target = ["--stage", "dev", "--endpoint-url", moto_url]
    table = json.loads(cli("deploy", *target, "--yes", "--json").stdout)["outputs"]["TableName"]
    ddb = server_client(moto_url, "dynamodb")

    code, text = run_in_terminal(["destroy", *target, "--delete-data"], tmp_path, "y\nprod\n")
    text = " ".join(text.split())
    assert code == 0 and "'prod' is not 'dev': nothing deleted" in text  # declined, as a no
    assert "VOTES TABLE" in text and "Type the stage name (dev)" in text
    assert table in ddb.list_tables()["TableNames"]
    server_client(moto_url, "cloudformation").describe_stacks(StackName="votectl-dev")

    code, text = run_in_terminal(["destroy", *target, "--delete-data"], tmp_path, "y\ndev\n")
    assert code == 0 and f"deleted votes table {table}" in " ".join(text.split())
    assert table not in ddb.list_tables()["TableNames"]


def test_cli_destroy_says_the_table_is_kept(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    table = json.loads(cli("deploy", *target, "--yes", "--json").stdout)["outputs"]["TableName"]
    kept = cli("destroy", *target, "--yes")
    said = " ".join(kept.stdout.split())  # Rich wraps at the terminal width
    assert f"kept votes table {table} (delete it with --delete-data)" in said
    gone = json.loads(cli("destroy", *target, "--delete-data", "--yes", "--json").stdout)
    assert (gone["deleted"], gone["table"], gone["table_kept"]) == (False, table, False)
    assert table not in server_client(moto_url, "dynamodb").list_tables()["TableNames"]
