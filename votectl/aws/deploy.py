"""The deploy as a pipeline of injected steps, and destroy.

    bundle -> ensure artifacts bucket -> upload zips -> create change set -> describe it
           -> confirm -> execute -> follow stack events -> read outputs

Each step takes the shared ``Deploy`` state and may end the run early by setting ``outcome``
(no changes, a dry run, declined). The change set is the plan: nothing in the stack changes
before ``confirm``; the artifacts bucket and the zips are written before it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from votectl.aws import bundle as bundling
from votectl.aws.session import Aws, aws_errors, error_code
from votectl.aws.stack import check_stage, read_stack, stack_parameters, template_body
from votectl.config import Stage
from votectl.errors import DeployFailed, StackBusy, StackNotFound

__all__ = [
    "DEFAULT_STEPS",
    "Change",
    "Deploy",
    "DeployResult",
    "DestroyResult",
    "Hooks",
    "StackEvent",
    "artifacts_bucket",
    "deploy",
    "destroy",
]

_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_ACTIONS = {"Add": "add", "Modify": "modify", "Remove": "remove", "Import": "import"}
_REPLACEMENT = {"True": "yes", "False": "no", "Conditional": "conditional"}
# settled states a deploy may start from as an UPDATE
_UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


@dataclass(frozen=True)
class Change:
    action: str  # add / modify / remove
    logical_id: str
    resource_type: str
    replacement: str  # yes / no / conditional, "" for add and remove


@dataclass(frozen=True)
class StackEvent:
    logical_id: str
    resource_type: str
    status: str
    reason: str


@dataclass(frozen=True)
class DeployResult:
    stack: str
    outcome: str  # deployed / no-op / dry-run / declined
    changes: tuple[Change, ...]
    outputs: dict[str, str | None]
    artifacts: tuple[bundling.Artifact, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "outcome": self.outcome,
            "changes": [asdict(c) for c in self.changes],
            "outputs": self.outputs,
            "artifacts": [asdict(a) for a in self.artifacts],
        }


@dataclass
class Hooks:
    """How the pipeline talks to its caller; the CLI draws, tests record."""

    confirm: Callable[[Sequence[Change]], bool] = lambda changes: True
    on_step: Callable[[str], None] = lambda step: None
    on_event: Callable[[StackEvent], None] = lambda event: None
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = 2.0
    timeout_seconds: float = 3600.0


@dataclass
class Deploy:
    """The state one deploy run builds up, step by step."""

    aws: Aws
    hooks: Hooks
    out_dir: Path
    dry_run: bool = False
    wheel_source: bundling.WheelSource = bundling.pip_wheel
    bundle: bundling.Bundle | None = None
    bucket: str = ""
    change_set: str = ""
    change_set_type: str = ""
    changes: tuple[Change, ...] = ()
    seen_events: set[str] = field(default_factory=set)
    outputs: dict[str, str | None] = field(default_factory=dict)
    outcome: str = ""

    @property
    def stage(self) -> Stage:
        return self.aws.stage

    @property
    def cfn(self) -> Any:
        return self.aws.client("cloudformation")


Step = Callable[[Deploy], None]


def artifacts_bucket(stage: Stage, account_id: str, region: str) -> str:
    """One bucket per stage, account and region: purging it never touches another stage."""
    name = f"votectl-{stage.name.lower()}-{account_id}-{region}"
    if len(name) > 63:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"votectl-{stage.name.lower()[: 63 - 36 - 9]}-{digest}-{account_id}-{region}"[:63]
    return name


# --- steps ----------------------------------------------------------------------------


def build_bundle(run: Deploy) -> None:
    run.hooks.on_step("bundling functions")
    run.bundle = bundling.build(run.out_dir, run.stage.architecture, run.wheel_source)


def ensure_bucket(run: Deploy) -> None:
    s3 = run.aws.client("s3")
    run.bucket = artifacts_bucket(run.stage, run.aws.account_id(), run.aws.region)
    run.hooks.on_step(f"artifacts bucket {run.bucket}")
    with aws_errors(f"preparing artifacts bucket {run.bucket}", run.stage):
        try:
            s3.head_bucket(Bucket=run.bucket)
            return
        except ClientError as exc:
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        where = (
            {}
            if run.aws.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": run.aws.region}}
        )
        s3.create_bucket(Bucket=run.bucket, **where)
        s3.put_public_access_block(
            Bucket=run.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=run.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=run.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


def upload(run: Deploy) -> None:
    assert run.bundle is not None
    s3 = run.aws.client("s3")
    for artifact in run.bundle.artifacts:
        with aws_errors(f"uploading {artifact.function}.zip", run.stage):
            try:
                s3.head_object(Bucket=run.bucket, Key=artifact.s3_key)
                continue  # keyed by content hash: already there means identical
            except ClientError as exc:
                if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise
            run.hooks.on_step(f"uploading {artifact.function}.zip")
            s3.put_object(
                Bucket=run.bucket, Key=artifact.s3_key, Body=Path(artifact.path).read_bytes()
            )


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
    run.seen_events = {e["EventId"] for e in _recent_events(run)}  # before this deploy
    run.hooks.on_step("executing change set")
    with aws_errors("executing the change set", run.stage):
        run.cfn.execute_change_set(StackName=run.stage.stack_name, ChangeSetName=run.change_set)


def follow_events(run: Deploy) -> None:
    status = _follow(run.aws, run.hooks, set(run.seen_events))
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        failures = _failure_reasons(run)
        raise DeployFailed(f"deploy of {run.stage.stack_name} ended {status}: {failures}")


def read_outputs(run: Deploy) -> None:
    run.outputs = read_stack(run.aws).output_values()
    run.outcome = "deployed"


DEFAULT_STEPS: tuple[Step, ...] = (
    build_bundle,
    ensure_bucket,
    upload,
    create_change_set,
    describe_changes,
    confirm,
    execute,
    follow_events,
    read_outputs,
)


def deploy(
    aws: Aws,
    hooks: Hooks | None = None,
    out_dir: Path = Path("dist"),
    dry_run: bool = False,
    wheel_source: bundling.WheelSource = bundling.pip_wheel,
    steps: Sequence[Step] = DEFAULT_STEPS,
) -> DeployResult:
    check_stage(aws.stage)
    run = Deploy(aws, hooks or Hooks(), out_dir, dry_run, wheel_source)
    for step in steps:
        step(run)
        if run.outcome:
            break
    if run.outcome == "no-op":
        run.outputs = read_stack(aws).output_values()
    return DeployResult(
        stack=aws.stage.stack_name,
        outcome=run.outcome,
        changes=run.changes,
        outputs=run.outputs,
        artifacts=run.bundle.artifacts if run.bundle else (),
    )


# --- destroy --------------------------------------------------------------------------


@dataclass(frozen=True)
class DestroyResult:
    stack: str
    deleted: bool
    bucket: str
    bucket_kept: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def destroy(aws: Aws, hooks: Hooks | None = None, purge: bool = False) -> DestroyResult:
    """Delete the stack and wait; keep the artifacts bucket unless ``purge``."""
    hooks = hooks or Hooks()
    check_stage(aws.stage)
    name = aws.stage.stack_name
    bucket = artifacts_bucket(aws.stage, aws.account_id(), aws.region)
    deleted = True
    try:
        read_stack(aws)
    except StackNotFound:
        if not purge:
            raise
        deleted = False
    if deleted:
        seen = {e["EventId"] for e in _events(aws, limit_pages=1)}
        hooks.on_step(f"deleting stack {name}")
        with aws_errors(f"deleting stack {name}", aws.stage):
            aws.client("cloudformation").delete_stack(StackName=name)
        status = _follow(aws, hooks, seen)
        if status not in ("DELETE_COMPLETE", "GONE"):
            raise DeployFailed(f"delete of {name} ended {status}", hint="see the stack events")
    if purge:
        hooks.on_step(f"emptying and deleting bucket {bucket}")
        _purge_bucket(aws, bucket)
    return DestroyResult(stack=name, deleted=deleted, bucket=bucket, bucket_kept=not purge)


def _purge_bucket(aws: Aws, bucket: str) -> None:
    s3 = aws.client("s3")
    with aws_errors(f"purging bucket {bucket}", aws.stage):
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return
            raise
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if doomed:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)


# --- helpers --------------------------------------------------------------------------


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


def _events(aws: Aws, limit_pages: int | None = None) -> list[dict[str, Any]]:
    """Stack events, newest first."""
    events: list[dict[str, Any]] = []
    with aws_errors("reading stack events", aws.stage):
        pages = aws.client("cloudformation").get_paginator("describe_stack_events")
        for n, page in enumerate(pages.paginate(StackName=aws.stage.stack_name)):
            events.extend(page["StackEvents"])
            if limit_pages and n + 1 >= limit_pages:
                break
    return events


def _recent_events(run: Deploy) -> list[dict[str, Any]]:
    if run.change_set_type == "CREATE":
        return []
    return _events(run.aws, limit_pages=1)


def _follow(aws: Aws, hooks: Hooks, seen: set[str]) -> str:
    """Report new stack events until the stack settles; return its status ("GONE" if deleted)."""
    deadline = time.monotonic() + hooks.timeout_seconds
    while True:
        try:
            events = _events(aws)
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


def _failure_reasons(run: Deploy) -> str:
    reasons = []
    for event in reversed(_events(run.aws)):
        if event["EventId"] in run.seen_events or not event["ResourceStatus"].endswith("_FAILED"):
            continue
        reason = event.get("ResourceStatusReason", "")
        if "cancelled" in reason.lower():
            continue
        reasons.append(f"{event['LogicalResourceId']} ({event['ResourceType']}): {reason}")
    return "; ".join(dict.fromkeys(reasons)) or "no resource reported a reason"
