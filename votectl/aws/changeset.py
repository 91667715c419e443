"""The change set, which is the plan: create it, describe it, confirm, execute or discard it.

Steps ``create_change_set``, ``describe_changes``, ``confirm`` and ``execute``. Nothing in the
stack changes before ``confirm``; a dry run or a "no" deletes the change set again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from votectl.aws.events import stack_events
from votectl.aws.pipeline import Deploy
from votectl.aws.records import Change
from votectl.aws.session import aws_errors
from votectl.aws.stack import read_stack, stack_parameters, template_body
from votectl.errors import DeployFailed, StackBusy, StackNotFound

__all__ = [
    "EMULATOR_CREATES_NONE",
    "Change",
    "confirm",
    "create_change_set",
    "describe_changes",
    "execute",
]

# The template's resource types moto's CloudFormation creates nothing for (moto 5.2: no
# CloudFormationModel for them; tests/unit/test_changeset_notes.py checks this list against the
# installed moto). On an emulator the change set still lists them as "add".
EMULATOR_CREATES_NONE = frozenset(
    {
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Stage",
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::Url",
        "AWS::SNS::Subscription",
    }
)

_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_ACTIONS = {"Add": "add", "Modify": "modify", "Remove": "remove", "Import": "import"}
_REPLACEMENT = {"True": "yes", "False": "no", "Conditional": "conditional"}
# settled states a deploy may start from as an UPDATE
_UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


def create_change_set(run: Deploy) -> None:
    assert run.bundle is not None
    name = run.stage.stack_name
    run.change_set_type = _change_set_type(run)
    run.change_set = f"votectl-{uuid.uuid4().hex[:12]}"
    run.hooks.on_step(f"creating change set ({run.change_set_type.lower()})")
    parameters = stack_parameters(run.stage, run.bundle, run.bucket)
    with aws_errors(f"creating a change set for {name}", run.stage):
        try:
            run.cfn.create_change_set(
                StackName=name,
                ChangeSetName=run.change_set,
                ChangeSetType=run.change_set_type,
                TemplateBody=template_body(),
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
                ],
                Capabilities=["CAPABILITY_IAM"],
                Tags=[{"Key": "votectl:stage", "Value": run.stage.name}],
            )
        except ClientError as exc:
            if _is_no_change(str(exc)):  # moto's form of "nothing to do"
                run.outcome = "no-op"
                return
            raise
        description = _wait_for_change_set(run)
    if description["Status"] == "FAILED":
        reason = description.get("StatusReason", "")
        _delete_change_set(run)
        if _is_no_change(reason):  # AWS's form of "nothing to do"
            run.outcome = "no-op"
            return
        raise DeployFailed(f"change set failed: {reason}", hint="fix the template or parameters")


def describe_changes(run: Deploy) -> None:
    changes: list[Change] = []
    kwargs = {"StackName": run.stage.stack_name, "ChangeSetName": run.change_set}
    with aws_errors("describing the change set", run.stage):
        while True:
            page = run.cfn.describe_change_set(**kwargs)
            for item in page.get("Changes", []):
                change = item.get("ResourceChange", {})
                action = _ACTIONS.get(change.get("Action", ""), change.get("Action", "").lower())
                replacement = change.get("Replacement", "") if action == "modify" else ""
                changes.append(
                    Change(
                        action=action,
                        logical_id=change.get("LogicalResourceId", ""),
                        resource_type=change.get("ResourceType", ""),
                        replacement=_REPLACEMENT.get(replacement, replacement.lower()),
                    )
                )
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    run.changes = tuple(changes)
    if run.dry_run:
        _discard(run)
        run.outcome = "dry-run"


def confirm(run: Deploy) -> None:
    if not run.hooks.confirm(run.changes):
        _discard(run)
        run.outcome = "declined"


def execute(run: Deploy) -> None:
    # events from before this deploy (a CREATE has none)
    before = [] if run.change_set_type == "CREATE" else stack_events(run.aws, limit_pages=1)
    run.seen_events = {e["EventId"] for e in before}
    run.hooks.on_step("executing change set")
    with aws_errors("executing the change set", run.stage):
        run.cfn.execute_change_set(StackName=run.stage.stack_name, ChangeSetName=run.change_set)


def _is_no_change(text: str) -> bool:
    return any(marker in text for marker in _NO_CHANGES)


def _change_set_type(run: Deploy) -> str:
    try:
        status = read_stack(run.aws).status
    except StackNotFound:
        return "CREATE"
    if status == "REVIEW_IN_PROGRESS":  # a CREATE change set never executed
        return "CREATE"
    if status in _UPDATABLE:
        return "UPDATE"
    hint = (
        "the first deploy failed and left nothing to update: `votectl destroy` then deploy again"
        if status == "ROLLBACK_COMPLETE"
        else None
    )
    raise StackBusy(f"stack {run.stage.stack_name} is {status}; cannot deploy now", hint=hint)


def _wait_for_change_set(run: Deploy) -> dict[str, Any]:
    deadline = time.monotonic() + run.hooks.timeout_seconds
    while True:
        description: dict[str, Any] = run.cfn.describe_change_set(
            StackName=run.stage.stack_name, ChangeSetName=run.change_set
        )
        if description["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return description
        if time.monotonic() > deadline:
            raise DeployFailed(f"change set {run.change_set} still {description['Status']}")
        run.hooks.sleep(run.hooks.poll_seconds)


def _delete_change_set(run: Deploy) -> None:
    with aws_errors("deleting the change set", run.stage):
        run.cfn.delete_change_set(StackName=run.stage.stack_name, ChangeSetName=run.change_set)


def _discard(run: Deploy) -> None:
    """Drop the change set; a CREATE leaves an empty REVIEW_IN_PROGRESS stack, drop that too."""
    _delete_change_set(run)
    if run.change_set_type == "CREATE":
        with aws_errors("removing the unexecuted stack", run.stage):
            run.cfn.delete_stack(StackName=run.stage.stack_name)
