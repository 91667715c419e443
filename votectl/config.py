"""Stage settings: votectl.toml + flags + environment -> one frozen ``Stage``.

The stage ``local`` (the default) is the embedded target; any other stage is AWS. Precedence,
lowest first: defaults, ``[stages.NAME]`` in votectl.toml, environment, flags. The file is
optional: a stage it does not define is made of defaults and flags alone.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from votectl.errors import ConfigError

__all__ = ["FRONT_DOORS", "LOCAL", "RUNTIMES", "Stage", "in_config", "load_stage", "validate"]

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
    runtime: str = "python3.14"
    # capacity: the `memory` key of votectl.toml sets all three memories at once
    receiver_memory: int = 512
    processor_memory: int = 512
    writer_memory: int = 1024
    receiver_reserved_concurrency: int = 0  # 0 = unreserved
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
    visibility_timeout: int = 180
    max_receive_count: int = 5
    throttle_rate: int = 5000
    throttle_burst: int = 2500
    log_retention_days: int = 14
    table_shards: int = 10
    table_warm_write_units: int = 40_000  # WarmThroughput; 0 = none
    table_warm_read_units: int = 0
    table_max_write_units: int = 0  # OnDemandThroughput.MaxWriteRequestUnits; 0 = no cap
    # protection and alerting
    table_deletion_protection: bool = True
    message_retention_days: int = 14
    alarm_email: str | None = None
    front_door: str = "http-api"  # or "function-url"
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
MEMORY_KEYS = ("receiver_memory", "processor_memory", "writer_memory")
RUNTIMES = ("python3.11", "python3.12", "python3.13", "python3.14")
FRONT_DOORS = ("http-api", "function-url")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

# Inclusive bounds of the whole-number settings AWS bounds (see README, 'Stages').
RANGES: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys(MEMORY_KEYS, (128, 10240)),
    **dict.fromkeys(
        (
            "receiver_reserved_concurrency",
            "processor_reserved_concurrency",
            "writer_reserved_concurrency",
            "table_warm_write_units",
            "table_warm_read_units",
            "table_max_write_units",
            "throttle_rate",
            "throttle_burst",
        ),
        (0, None),
    ),
    **dict.fromkeys(("receiver_timeout", "processor_timeout", "writer_timeout"), (1, 900)),
    **dict.fromkeys(("processor_batch_size", "writer_batch_size"), (1, 10_000)),
    **dict.fromkeys(("processor_batch_window", "writer_batch_window"), (0, 300)),
    **dict.fromkeys(("processor_max_concurrency", "writer_max_concurrency"), (2, 1000)),
    "visibility_timeout": (0, 43_200),
    "max_receive_count": (1, 1000),
    "message_retention_days": (1, 14),
    "table_shards": (1, None),
    "log_retention_days": (1, None),
}


def _kind(key: str) -> type:
    default = _FIELDS[key].default
    return bool if isinstance(default, bool) else int if isinstance(default, int) else str


def _coerce(stage: str, key: str, value: Any) -> Any:
    if key not in _FIELDS or key == "name":
        raise ConfigError(f"stage {stage!r}: unknown setting {key!r}")
    if isinstance(_FIELDS[key].default, tuple):  # a list of strings (votectl.toml or flags)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"stage {stage!r}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    expected = _kind(key)
    if expected is bool:
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        if not isinstance(value, bool):
            raise ConfigError(f"stage {stage!r}: {key} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, expected):
        kind = "a whole number" if expected is int else "a string"
        raise ConfigError(f"stage {stage!r}: {key} must be {kind}, got {value!r}")
    return value


def validate(stage: Stage) -> Stage:
    """``stage`` itself, or a ConfigError naming the first setting AWS would refuse."""

    def bad(message: str) -> ConfigError:
        return ConfigError(f"stage {stage.name!r}: {message}")

    for key, (low, high) in RANGES.items():
        value = getattr(stage, key)
        if value < low or (high is not None and value > high):
            upper = f"..{high}" if high is not None else " or more"
            raise bad(f"{key} must be {low}{upper}, got {value}")
    if stage.architecture not in ("arm64", "x86_64"):
        raise bad("architecture must be arm64 or x86_64")
    if stage.runtime not in RUNTIMES:
        raise bad(f"runtime must be one of {', '.join(RUNTIMES)}, got {stage.runtime!r}")
    if stage.front_door not in FRONT_DOORS:
        raise bad(f"front_door must be {' or '.join(FRONT_DOORS)}, got {stage.front_door!r}")
    if stage.auth not in ("none", "jwt"):
        raise bad(f"auth must be none or jwt, got {stage.auth!r}")
    if 0 < stage.table_max_write_units < stage.table_warm_write_units:
        raise bad("table_warm_write_units must not exceed table_max_write_units")
    email = stage.alarm_email
    if email is not None and (
        email.count("@") != 1 or any(c.isspace() for c in email) or not all(email.split("@"))
    ):
        raise bad(f"alarm_email must be one email address, got {email!r}")
    return stage


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


def known_stages(config_path: Path | None = None) -> list[str]:
    """The stages votectl.toml defines, in its order."""
    return list(read_config(config_path or Path(CONFIG_FILE)))


def in_config(name: str, config_path: Path | None = None) -> bool:
    """Whether votectl.toml defines stage ``name``."""
    return name in read_config(config_path or Path(CONFIG_FILE))


def load_stage(name: str | None = None, config_path: Path | None = None, **overrides: Any) -> Stage:
    """The named stage (default: $VOTECTL_STAGE or local) with flag overrides applied."""
    name = name or os.environ.get("VOTECTL_STAGE") or LOCAL
    stages = read_config(config_path or Path(CONFIG_FILE))
    # a stage not in the file is defaults + environment + flags (`deploy` says so)
    settings = _with_memories(dict(stages.get(name, {})))
    if os.environ.get("VOTECTL_DATA_DIR"):
        settings["data_dir"] = os.environ["VOTECTL_DATA_DIR"]
    settings.update(_with_memories({k: v for k, v in overrides.items() if v is not None}))
    settings = {k: _coerce(name, k, v) for k, v in settings.items()}
    return validate(replace(Stage(name=name), **settings))


def _with_memories(settings: dict[str, Any]) -> dict[str, Any]:
    """The old single ``memory`` setting as the default of the three function memories."""
    if "memory" in settings:
        memory = settings.pop("memory")
        for key in MEMORY_KEYS:
            settings.setdefault(key, memory)
    return settings
