"""The votes table outlives its stack (DeletionPolicy Retain, deletion protection on).

Finding it (from the stack, or by CloudFormation's name once the stack is gone), asking whether it
holds votes, and deleting it for good, which only ``votectl destroy --delete-data`` does.
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from votectl.aws.pipeline import Hooks
from votectl.aws.session import Aws, aws_errors, error_code
from votectl.aws.stack import DeployedStack
from votectl.errors import DeployFailed

__all__ = ["delete_table", "find_table", "holds_items", "left_tables"]

TABLE_ID = "VotesTable"


def find_table(aws: Aws, stack: DeployedStack | None) -> str | None:
    """The stage's votes table: the stack's, or the newest one a deleted stack left behind."""
    if stack is not None:
        return stack.resources.get(TABLE_ID) or None
    left = left_tables(aws)
    return left[0] if left else None


def left_tables(aws: Aws) -> list[str]:
    """Every votes table the stage's deleted stacks left behind (each deploy after a destroy
    makes a new one), newest first."""
    prefix = f"{aws.stage.stack_name}-{TABLE_ID}-"  # CloudFormation's generated name
    ddb = aws.client("dynamodb")
    with aws_errors("listing tables", aws.stage):
        pages = ddb.get_paginator("list_tables").paginate()
        names = [n for page in pages for n in page["TableNames"] if n.startswith(prefix)]
        made = {}
        for name in names:
            try:
                made[name] = ddb.describe_table(TableName=name)["Table"]["CreationDateTime"]
            except ddb.exceptions.ResourceNotFoundException:
                continue  # deleted since it was listed: nothing left of it
    return sorted(made, key=lambda n: (made[n], n), reverse=True)


def holds_items(aws: Aws, table: str) -> bool:
    """Does the table hold at least one item? (one strongly consistent read of one item)"""
    with aws_errors(f"reading table {table}", aws.stage):
        page = aws.client("dynamodb").scan(
            TableName=table, Limit=1, ConsistentRead=True, ProjectionExpression="pk"
        )
    return bool(page.get("Items"))


def delete_table(aws: Aws, table: str, hooks: Hooks) -> None:
    """Turn deletion protection off, delete the table and wait until it is gone."""
    ddb = aws.client("dynamodb")
    with aws_errors(f"deleting table {table}", aws.stage):
        try:
            described = ddb.describe_table(TableName=table)["Table"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return
            raise
        if described.get("DeletionProtectionEnabled"):
            hooks.on_step(f"turning off deletion protection on {table}")
            ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
            _wait(aws, table, hooks, until_gone=False)
        hooks.on_step(f"deleting table {table}")
        ddb.delete_table(TableName=table)
        _wait(aws, table, hooks, until_gone=True)


def _wait(aws: Aws, table: str, hooks: Hooks, until_gone: bool) -> None:
    ddb = aws.client("dynamodb")
    deadline = time.monotonic() + hooks.timeout_seconds
    while True:
        try:
            status = ddb.describe_table(TableName=table)["Table"]["TableStatus"]
        except ClientError as exc:
            if until_gone and error_code(exc) == "ResourceNotFoundException":
                return
            raise
        if not until_gone and status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise DeployFailed(f"table {table} still {status}; gave up waiting")
        hooks.sleep(hooks.poll_seconds)
