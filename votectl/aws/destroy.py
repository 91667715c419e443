"""Destroy: delete the stage's stack; the votes table stays unless ``delete_data``.

The table is retained by the template (DeletionPolicy Retain): deleting the stack leaves it and
its votes. ``delete_data`` then removes it too (deletion protection off, delete), also when an
earlier destroy already removed the stack. ``purge`` empties and deletes the artifacts bucket.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from votectl.aws.artifacts import artifacts_bucket, purge_bucket
from votectl.aws.events import follow, stack_events
from votectl.aws.pipeline import Hooks
from votectl.aws.retained import delete_table, find_table
from votectl.aws.session import Aws, aws_errors
from votectl.aws.stack import DeployedStack, check_stage, read_stack
from votectl.errors import DeployFailed, StackNotFound

__all__ = ["DestroyResult", "destroy"]


@dataclass(frozen=True)
class DestroyResult:
    stack: str
    deleted: bool
    bucket: str
    bucket_kept: bool
    table: str | None  # the votes table, None if there was none
    table_kept: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def destroy(
    aws: Aws, hooks: Hooks | None = None, purge: bool = False, delete_data: bool = False
) -> DestroyResult:
    """Delete the stack and wait; keep the table unless ``delete_data``, the bucket unless
    ``purge``. A missing stack is an error unless there is something else to delete."""
    hooks = hooks or Hooks()
    check_stage(aws.stage)
    name = aws.stage.stack_name
    bucket = artifacts_bucket(aws.stage, aws.account_id(), aws.region)
    stack: DeployedStack | None = None
    try:
        stack = read_stack(aws)
    except StackNotFound:
        if not (purge or delete_data):
            raise
    table = find_table(aws, stack)
    if stack is not None:
        seen = {e["EventId"] for e in stack_events(aws, limit_pages=1)}
        hooks.on_step(f"deleting stack {name}")
        with aws_errors(f"deleting stack {name}", aws.stage):
            aws.client("cloudformation").delete_stack(StackName=name)
        status = follow(aws, hooks, seen)
        if status not in ("DELETE_COMPLETE", "GONE"):
            raise DeployFailed(f"delete of {name} ended {status}", hint="see the stack events")
    if delete_data and table:
        delete_table(aws, table, hooks)
    if purge:
        hooks.on_step(f"emptying and deleting bucket {bucket}")
        purge_bucket(aws, bucket)
    return DestroyResult(
        stack=name,
        deleted=stack is not None,
        bucket=bucket,
        bucket_kept=not purge,
        table=table,
        table_kept=bool(table) and not delete_data,
    )
