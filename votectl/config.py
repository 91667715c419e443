"""Stage settings: votectl.toml + flags + environment -> one frozen ``Stage``.

The stage ``local`` (the default) is the embedded target; any other stage is AWS. Precedence,
lowest first: defaults, ``[stages.NAME]`` in votectl.toml, environment, flags.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from votectl.errors import ConfigError, UnknownStage

__all__ = ["LOCAL", "Stage", "load_stage"]

LOCAL = "local"
CONFIG_FILE = "votectl.toml"
DEFAULT_DATA_DIR = ".votectl/local"


@dataclass(frozen=True)
class Stage:
    name: str = LOCAL
    # local target
    data_dir: str = DEFAULT_DATA_DIR
    # AWS target
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    architecture: str = "arm64"
    memory: int = 512
    receiver_timeout: int = 10
    processor_timeout: int = 30
    writer_timeout: int = 30
    processor_batch_size: int = 1000
    processor_batch_window: int = 1
    processor_max_concurrency: int = 20
    writer_batch_size: int = 100
    writer_batch_window: int = 1
    writer_max_concurrency: int = 20
    visibility_timeout: int = 180
    max_receive_count: int = 5
    throttle_rate: int = 5000
    throttle_burst: int = 2500
    log_retention_days: int = 14
    table_shards: int = 10
    # authenticated votes (both targets; see votectl/local/auth.py and the template's Auth)
    auth: str = "none"  # "none" | "jwt"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks: str | None = None  # local: a JWKS file or URL
    jwt_secret_file: str | None = None  # local: an HS256 secret (development)
    cors_origins: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL

    @property
    def stack_name(self) -> str:
        return f"votectl-{self.name}"


_FIELDS = {f.name: f for f in fields(Stage)}


def _coerce(stage: str, key: str, value: Any) -> Any:
    if key not in _FIELDS or key == "name":
        raise ConfigError(f"stage {stage!r}: unknown setting {key!r}")
    default = getattr(Stage, key, None)
    if isinstance(default, tuple):  # a list of strings in votectl.toml
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"stage {stage!r}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    expected = int if isinstance(default, int) else str  # else str | None
    if isinstance(value, bool) or not isinstance(value, expected):
        kind = "a whole number" if expected is int else "a string"
        raise ConfigError(f"stage {stage!r}: {key} must be {kind}, got {value!r}")
    return value


def read_config(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(isinstance(v, dict) for v in stages.values()):
        raise ConfigError(f"{path}: [stages.NAME] tables expected")
    return stages


def load_stage(name: str | None = None, config_path: Path | None = None, **overrides: Any) -> Stage:
    """The named stage (default: $VOTECTL_STAGE or local) with flag overrides applied."""
    name = name or os.environ.get("VOTECTL_STAGE") or LOCAL
    stages = read_config(config_path or Path(CONFIG_FILE))
    if name != LOCAL and name not in stages:
        known = ", ".join(sorted({LOCAL, *stages}))
        raise UnknownStage(f"unknown stage {name!r} (known: {known})")
    settings = {k: _coerce(name, k, v) for k, v in stages.get(name, {}).items()}
    if os.environ.get("VOTECTL_DATA_DIR"):
        settings["data_dir"] = os.environ["VOTECTL_DATA_DIR"]
    settings.update({k: v for k, v in overrides.items() if v is not None})
    stage = replace(Stage(name=name), **settings)
    if stage.architecture not in ("arm64", "x86_64"):
        raise ConfigError(f"stage {name!r}: architecture must be arm64 or x86_64")
    if stage.auth not in ("none", "jwt"):
        raise ConfigError(f"stage {name!r}: auth must be none or jwt, got {stage.auth!r}")
    return stage
