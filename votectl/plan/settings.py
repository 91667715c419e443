"""The capacity settings the plan reads: a stage's own fields, with the stage's own defaults.

The model takes a ``votectl.config.Stage`` (unit tests build one with hand-checkable numbers);
``settings_json`` is the part of it a plan reports.
"""

from __future__ import annotations

from typing import Any

from votectl.config import FRONT_DOORS, WRITE_PATHS, Stage

__all__ = ["FRONT_DOORS", "PLANNED", "WRITE_PATHS", "Settings", "settings_json"]

Settings = Stage

# the fields that size and price the pipeline, in the order a plan's JSON lists them
PLANNED = (
    "front_door",
    "write_path",
    "architecture",
    "receiver_memory",
    "processor_memory",
    "writer_memory",
    "receiver_reserved_concurrency",
    "processor_reserved_concurrency",
    "writer_reserved_concurrency",
    "receiver_timeout",
    "processor_timeout",
    "writer_timeout",
    "processor_batch_size",
    "processor_batch_window",
    "processor_max_concurrency",
    "writer_batch_size",
    "writer_batch_window",
    "writer_max_concurrency",
    "throttle_rate",
    "table_shards",
    "table_warm_write_units",
    "table_max_write_units",
    "table_kms_key",
    "account_concurrency",
    "table_write_quota",
)


def settings_json(stage: Stage) -> dict[str, Any]:
    return {name: getattr(stage, name) for name in PLANNED}
