"""The chooser above the targets: a stage's operations, local or AWS."""

from __future__ import annotations

from votectl.config import Stage
from votectl.operations import Operations

__all__ = ["open_target"]


def open_target(stage: Stage) -> Operations:
    """The local SQLite target for stage ``local``, the AWS stack otherwise."""
    if stage.is_local:
        from votectl.local.ops import LocalOperations

        return LocalOperations(stage.data_dir)
    from votectl.aws.ops import AwsOperations

    return AwsOperations(stage)
