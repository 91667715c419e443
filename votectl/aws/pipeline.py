"""The deploy pipeline's shared parts: the caller's ``Hooks`` and the ``Deploy`` state steps build.

A step is a function of the ``Deploy`` state; it may end the run early by setting ``outcome``
(no changes, a dry run, declined). The steps live in modules named for what they own
(``artifacts``, ``guards``, ``changeset``, ``events``); ``deploy`` strings them together.
What the steps report (``Change``, ``StackEvent``) lives below all of them, in ``records``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from votectl.aws import bundle as bundling
from votectl.aws.records import Change, StackEvent
from votectl.aws.session import Aws
from votectl.config import Stage

__all__ = ["Deploy", "Hooks", "Step"]


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
