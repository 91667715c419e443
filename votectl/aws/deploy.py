"""The deploy as a pipeline of injected steps, each in the module that owns it.

    refuse_shard_change (guards) -> build_bundle -> ensure_bucket -> upload (artifacts)
      -> create_change_set -> describe_changes -> confirm -> execute (changeset)
      -> follow_events (events) -> read_outputs

Each step takes the shared ``Deploy`` state (``pipeline``) and may end the run early by setting
``outcome`` (no changes, a dry run, declined). The change set is the plan: nothing in the stack
changes before ``confirm``; the artifacts bucket and the zips are written before it, and the
guards run before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from votectl.aws import bundle as bundling
from votectl.aws.artifacts import artifacts_bucket, build_bundle, ensure_bucket, upload
from votectl.aws.changeset import Change, confirm, create_change_set, describe_changes, execute
from votectl.aws.destroy import DestroyResult, destroy
from votectl.aws.events import StackEvent, follow_events
from votectl.aws.guards import refuse_shard_change
from votectl.aws.pipeline import Deploy, Hooks, Step
from votectl.aws.session import Aws
from votectl.aws.stack import check_stage, read_stack

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


def read_outputs(run: Deploy) -> None:
    run.outputs = read_stack(run.aws).output_values()
    run.outcome = "deployed"


DEFAULT_STEPS: tuple[Step, ...] = (
    refuse_shard_change,
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
