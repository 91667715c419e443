"""The operations both targets expose, so a CLI command never branches on the target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from votectl.config import Stage
from votectl.model import QueueStat, RedriveResult, Results, TableCount

__all__ = ["Operations", "Progress", "open_target"]

# on_progress(what, done, total or None): long operations report through it; the CLI draws it.
Progress = Callable[[str, int, int | None], None]


class Operations(Protocol):
    def queue_stats(self) -> list[QueueStat]: ...

    def table_count(
        self, exact: bool = False, on_progress: Progress | None = None
    ) -> TableCount: ...

    def results(self, title_id: str) -> Results: ...

    def redrive(
        self,
        queue: str | None = None,
        max_per_second: int | None = None,
        cancel: bool = False,
        on_progress: Progress | None = None,
    ) -> RedriveResult: ...


def open_target(stage: Stage) -> Operations:
    """The local SQLite target for stage ``local``, the AWS stack otherwise."""
    if stage.is_local:
        from votectl.local.ops import LocalOperations

        return LocalOperations(stage.data_dir)
    from votectl.aws.ops import AwsOperations

    return AwsOperations(stage)
