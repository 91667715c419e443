"""Destroy: delete the stage's stack; the votes table stays unless ``delete_data``.

The table is retained by the template (DeletionPolicy Retain): deleting the stack leaves it and
its votes. ``delete_data`` then removes it too (deletion protection off, delete), also when an
earlier destroy already removed the stack. ``purge`` empties and deletes the artifacts bucket.

The queues and DLQs are not retained: votes still in them would go with the stack. So destroy
refuses while any of them holds a message (visible, in flight or delayed), naming each queue and
its depth, unless ``force``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from votectl.aws.artifacts import artifacts_bucket, purge_bucket
from votectl.aws.events import follow, stack_events
from votectl.aws.pipeline import Hooks
from votectl.aws.retained import delete_table, find_table, left_tables
from votectl.aws.session import Aws, aws_errors
from votectl.aws.stack import QUEUES, DeployedStack, check_stage, read_stack
from votectl.errors import DeployFailed, QueuesNotEmpty, StackNotFound

__all__ = ["DestroyResult", "destroy", "queue_depths", "refuse_held_messages"]

# every message a queue holds: SQS's approximate counts of the three states
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html)
_DEPTHS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True)
class DestroyResult:
    stack: str
    deleted: bool
    bucket: str | None  # None when nothing was deleted
    bucket_kept: bool
    table: str | None  # the votes table, None if there was none
    table_kept: bool
    older_tables: list[str]  # left by earlier stacks of the stage; deleted with the data too

    @classmethod
    def untouched(cls, stack: str) -> DestroyResult:
        """A destroy that deleted nothing (declined, or the stack was already gone)."""
        return cls(stack, False, None, True, None, True, [])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def queue_depths(aws: Aws, stack: DeployedStack) -> dict[str, int]:
    """Messages each of the stack's queues holds (visible + in flight + delayed), by name."""
    sqs = aws.client("sqs")
    depths = {}
    for name, (logical, _, _) in QUEUES.items():
        url = stack.resources.get(logical)
        if not url:
            continue  # a queue already gone holds nothing
        with aws_errors(f"reading queue {name}", aws.stage):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTHS))
        depths[name] = sum(int(attributes["Attributes"].get(a, 0)) for a in _DEPTHS)
    return depths


def refuse_held_messages(aws: Aws, stack: DeployedStack) -> None:
    """QueuesNotEmpty naming every queue that holds messages, and how many."""
    held = {name: n for name, n in queue_depths(aws, stack).items() if n}
    if held:
        listed = ", ".join(f"{name} {n:,}" for name, n in held.items())
        raise QueuesNotEmpty(
            f"stack {stack.name}: {sum(held.values()):,} message(s) still queued ({listed});"
            " deleting the stack deletes its queues and DLQs with them"
        )


def destroy(
    aws: Aws,
    hooks: Hooks | None = None,
    purge: bool = False,
    delete_data: bool = False,
    force: bool = False,
) -> DestroyResult:
    """Delete the stack and wait; keep the table unless ``delete_data``, the bucket unless
    ``purge``. A missing stack is an error unless there is something else to delete; queues
    that hold messages are one unless ``force``."""
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
    if stack is not None and not force:
        refuse_held_messages(aws, stack)
    table = find_table(aws, stack) if stack is not None else None
    if stack is not None:
        seen = {e["EventId"] for e in stack_events(aws, limit_pages=1)}
        hooks.on_step(f"deleting stack {name}")
        with aws_errors(f"deleting stack {name}", aws.stage):
            aws.client("cloudformation").delete_stack(StackName=name)
        status = follow(aws, hooks, seen)
        if status not in ("DELETE_COMPLETE", "GONE"):
            raise DeployFailed(f"delete of {name} ended {status}", hint="see the stack events")
    left = left_tables(aws)  # listed once; after a delete, the stack's own kept table is here
    if stack is None:
        table = left[0] if left else None  # the newest
    older = [t for t in left if t != table]
    if delete_data:
        for doomed in [table, *older] if table else older:
            delete_table(aws, doomed, hooks)
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
        older_tables=older,
    )
