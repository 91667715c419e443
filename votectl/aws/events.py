"""Stack events: reading them, following a stack until it settles, and why it failed.

Step ``follow_events``; ``follow`` also serves destroy.
"""

from __future__ import annotations

import time
from typing import Any

from votectl.aws.pipeline import Deploy, Hooks
from votectl.aws.records import StackEvent
from votectl.aws.session import Aws, aws_errors
from votectl.aws.stack import read_stack
from votectl.errors import DeployFailed, StackNotFound

__all__ = ["StackEvent", "failure_reasons", "follow", "follow_events", "stack_events"]


def stack_events(aws: Aws, limit_pages: int | None = None) -> list[dict[str, Any]]:
    """Stack events, newest first."""
    events: list[dict[str, Any]] = []
    with aws_errors("reading stack events", aws.stage):
        pages = aws.client("cloudformation").get_paginator("describe_stack_events")
        for n, page in enumerate(pages.paginate(StackName=aws.stage.stack_name)):
            events.extend(page["StackEvents"])
            if limit_pages and n + 1 >= limit_pages:
                break
    return events


def follow(aws: Aws, hooks: Hooks, seen: set[str]) -> str:
    """Report new stack events until the stack settles; return its status ("GONE" if deleted)."""
    deadline = time.monotonic() + hooks.timeout_seconds
    while True:
        try:
            events = stack_events(aws)
            status = read_stack(aws).status
        except StackNotFound:
            return "GONE"
        for event in reversed(events):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            hooks.on_event(
                StackEvent(
                    logical_id=event.get("LogicalResourceId", ""),
                    resource_type=event.get("ResourceType", ""),
                    status=event.get("ResourceStatus", ""),
                    reason=event.get("ResourceStatusReason", ""),
                )
            )
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise DeployFailed(f"stack {aws.stage.stack_name} still {status}; gave up waiting")
        hooks.sleep(hooks.poll_seconds)


def failure_reasons(aws: Aws, seen: set[str]) -> str:
    """The resources that failed since ``seen``, with their reasons, on one line."""
    reasons = []
    for event in reversed(stack_events(aws)):
        if event["EventId"] in seen or not event["ResourceStatus"].endswith("_FAILED"):
            continue
        reason = event.get("ResourceStatusReason", "")
        if "cancelled" in reason.lower():
            continue
        reasons.append(f"{event['LogicalResourceId']} ({event['ResourceType']}): {reason}")
    return "; ".join(dict.fromkeys(reasons)) or "no resource reported a reason"


def follow_events(run: Deploy) -> None:
    status = follow(run.aws, run.hooks, set(run.seen_events))
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        failures = failure_reasons(run.aws, run.seen_events)
        raise DeployFailed(f"deploy of {run.stage.stack_name} ended {status}: {failures}")
