"""The capacity settings of a stage that the plan reads, in one frozen record.

``Settings.of(stage)`` reads the stage's fields by name (see notes/SHARED_NAMES.md); the model
only ever sees ``Settings``, so unit tests build one directly with hand-checkable numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from votectl.config import FRONT_DOORS

__all__ = ["FRONT_DOORS", "Settings"]


@dataclass(frozen=True)
class Settings:
    front_door: str = "http-api"
    architecture: str = "arm64"
    receiver_memory: int = 512
    processor_memory: int = 512
    writer_memory: int = 512
    receiver_reserved_concurrency: int = 0
    processor_reserved_concurrency: int = 0
    writer_reserved_concurrency: int = 0
    receiver_timeout: int = 10
    processor_timeout: int = 30
    writer_timeout: int = 30
    processor_batch_size: int = 1000
    processor_batch_window: int = 1
    processor_max_concurrency: int = 20
    writer_batch_size: int = 100
    writer_batch_window: int = 1
    writer_max_concurrency: int = 20
    throttle_rate: int = 5000
    table_shards: int = 10
    table_warm_write_units: int = 0
    table_max_write_units: int = 0

    @classmethod
    def of(cls, stage: Any) -> Settings:
        """The settings of a ``votectl.config.Stage`` (or anything with the same fields)."""
        return cls(**{f.name: getattr(stage, f.name) for f in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
