"""Stage settings: votectl.toml + flags + environment -> one frozen ``Stage``.

The stage ``local`` (the default) is the embedded target; any other stage is AWS. Precedence,
lowest first: defaults, ``[stages.NAME]`` in votectl.toml, environment, flags. The file is
optional: a stage it does not define is made of defaults and flags alone.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from votectl.errors import ConfigError

__all__ = [
    "FRONT_DOORS",
    "LOCAL",
    "LOG_RETENTION_DAYS",
    "RUNTIMES",
    "WRITE_PATHS",
    "Stage",
    "in_config",
    "load_stage",
    "validate",
]

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
    receiver_reserved_concurrency: int = 0  # 0 = unreserved (refused with a Function URL)
    processor_reserved_concurrency: int = 0  # 0 = reserve processor_max_concurrency
    writer_reserved_concurrency: int = 0  # 0 = reserve writer_max_concurrency
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
    table_kms_key: str | None = None  # a customer-managed KMS key (ARN); None = AWS-owned key
    write_path: str = "partiql"  # the writer's statements: "partiql" | "classic"
    # the account's quotas (Service Quotas), raised with AWS first, then here
    account_concurrency: int = 1000  # Lambda concurrent executions, per Region
    table_write_quota: int = 40_000  # DynamoDB table-level write throughput, WRU/s
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
    jwt_leeway: int = 60  # local: seconds of issuer clock skew allowed on exp, nbf and iat
    cors_origins: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL

    @property
    def stack_name(self) -> str:
        return f"votectl-{self.name}"

    def reserved(self, function: str) -> int:
        """The reserved concurrency deployed for ``function`` (0 = none): the processor and the
        writer reserve at least their event source's MaximumConcurrency unless set higher."""
        own = int(getattr(self, f"{function}_reserved_concurrency"))
        if function == "receiver":
            return own
        return own or int(getattr(self, f"{function}_max_concurrency"))


_FIELDS = {f.name: f for f in fields(Stage)}
MEMORY_KEYS = ("receiver_memory", "processor_memory", "writer_memory")
RUNTIMES = ("python3.11", "python3.12", "python3.13", "python3.14")
FRONT_DOORS = ("http-api", "function-url")
WRITE_PATHS = ("partiql", "classic")
# CloudFormation's AWS::Logs::LogGroup RetentionInDays, as CloudWatch Logs' PutRetentionPolicy
# lists them: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
# A stack name: a letter, then letters, digits and hyphens, 128 at most (CloudFormation
# CreateStack, StackName: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html).
# votectl names more after the stage (functions `votectl-NAME-processor`, 64 at most:
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html; the artifacts bucket,
# 63 at most), so a stage name keeps to 40 characters.
STAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,39}")
STAGE_NAME_RULE = "1-40 letters, digits and hyphens, starting with a letter"
# Lambda keeps 100 of the account's concurrency unreserved: reserved concurrency in total is at
# most account_concurrency - 100 (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
UNRESERVED_MINIMUM = 100
# One partition serves at most 1,000 write units/s, so a title's shards are of use up to the
# table's write throughput / 1,000 (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html).
PARTITION_WRITE_UNITS = 1000
MAX_SHARDS = 1000  # the template's TableShards MaxValue
# One address: an SNS email subscription takes one endpoint, so "a@b,x" is refused.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[^@\s,;<>()\[\]\"]+@{_LABEL}(?:\.{_LABEL})+")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

# Inclusive bounds of the whole-number settings AWS bounds (see docs/deploying.md, 'Stages').
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
        ),
        (0, None),
    ),
    # a stage throttle of 0 would refuse every request (and the template's MinValue is 1)
    **dict.fromkeys(("throttle_rate", "throttle_burst"), (1, None)),
    # the receiver answers the HTTP API, whose integration timeout is 30 s at most ("Maximum
    # integration timeout", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html),
    # and the template's ReceiverTimeout stops at 29; the SQS consumers have Lambda's 900 s
    "receiver_timeout": (1, 29),
    **dict.fromkeys(("processor_timeout", "writer_timeout"), (1, 900)),
    **dict.fromkeys(("processor_batch_size", "writer_batch_size"), (1, 10_000)),
    **dict.fromkeys(("processor_batch_window", "writer_batch_window"), (0, 300)),
    **dict.fromkeys(("processor_max_concurrency", "writer_max_concurrency"), (2, 1000)),
    "visibility_timeout": (0, 43_200),
    "max_receive_count": (1, 1000),
    "message_retention_days": (1, 14),
    "table_shards": (1, None),  # at most MAX_SHARDS, checked with the table's throughput
    "log_retention_days": (1, None),
    "account_concurrency": (1, None),
    "table_write_quota": (1, None),
    "jwt_leeway": (0, 3600),
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
    """``stage`` itself, or a ConfigError naming the first setting AWS would refuse, and the
    limit it breaks. Runs before anything is bundled or sent to AWS."""

    def bad(message: str) -> ConfigError:
        return ConfigError(f"stage {stage.name!r}: {message}")

    if not STAGE_NAME.fullmatch(stage.name):  # fullmatch: "dev\n" is no stack name
        raise ConfigError(
            f"stage name {stage.name!r} cannot name a stack ({STAGE_NAME_RULE})",
            hint=f"use {STAGE_NAME_RULE}",
        )
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
    if stage.write_path not in WRITE_PATHS:
        raise bad(f"write_path must be {' or '.join(WRITE_PATHS)}, got {stage.write_path!r}")
    if stage.auth not in ("none", "jwt"):
        raise bad(f"auth must be none or jwt, got {stage.auth!r}")
    if stage.log_retention_days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise bad(
            f"log_retention_days must be one of CloudWatch Logs' retention periods ({allowed}),"
            f" got {stage.log_retention_days}"
        )
    _check_capacity(stage, bad)
    email = stage.alarm_email
    if email is not None and not _EMAIL.fullmatch(email):
        raise bad(f"alarm_email must be one email address (no lists, no spaces), got {email!r}")
    kms = stage.table_kms_key
    if kms is not None and not _KMS_KEY.fullmatch(kms):
        raise bad(
            f"table_kms_key must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), got {kms!r}"
            " (leave it out for the AWS-owned key, at no charge)"
        )
    return stage


# SSESpecification.KMSMasterKeyId takes a key ARN (also an id or alias); votectl takes the ARN
# only, which the writer's role also names (the key's IAM grant cannot name an alias)
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSESpecification.html
_KMS_KEY = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-)?[0-9a-f-]{32,36}")


def _check_capacity(stage: Stage, bad: Any) -> None:
    """Concurrency, WarmThroughput and shards within what the account and the key design allow."""
    if stage.front_door == "function-url" and stage.receiver_reserved_concurrency == 0:
        # a Function URL has no throttle of its own: the receiver's reserved concurrency is its
        # only bound (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html)
        raise bad(
            "front_door function-url needs receiver_reserved_concurrency (a Function URL has no"
            " throttle but the receiver's concurrency; unreserved, one flood takes the account's)"
        )
    ceiling = stage.account_concurrency - UNRESERVED_MINIMUM
    for name in ("receiver", "processor", "writer"):
        if stage.reserved(name) > ceiling:
            raise bad(
                f"{name}_reserved_concurrency {stage.reserved(name):,} is above the account's"
                f" {stage.account_concurrency:,} concurrent executions less the"
                f" {UNRESERVED_MINIMUM} Lambda keeps unreserved ({ceiling:,})"
            )
    total = sum(stage.reserved(n) for n in ("receiver", "processor", "writer"))
    if total > ceiling:
        raise bad(
            f"reserved concurrency in total ({total:,}: receiver, processor, writer) is above the"
            f" account's {stage.account_concurrency:,} concurrent executions less the"
            f" {UNRESERVED_MINIMUM} Lambda keeps unreserved ({ceiling:,});"
            " raise account_concurrency once AWS has raised the quota"
        )
    for key in ("table_warm_write_units", "table_max_write_units"):
        # WarmThroughput and OnDemandThroughput stop at the table-level quota
        # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html)
        if getattr(stage, key) > stage.table_write_quota:
            raise bad(
                f"{key} {getattr(stage, key):,} is above the table-level write quota"
                f" (table_write_quota {stage.table_write_quota:,} WRU/s);"
                " request the raise from AWS first, then set table_write_quota"
            )
    if 0 < stage.table_max_write_units < stage.table_warm_write_units:
        raise bad("table_warm_write_units must not exceed table_max_write_units")
    table = stage.table_max_write_units or stage.table_write_quota
    useful = min(MAX_SHARDS, max(1, table // PARTITION_WRITE_UNITS))
    if stage.table_shards > useful:
        raise bad(
            f"table_shards {stage.table_shards:,} is more than the key design can use: one title's"
            f" shards share the table's {table:,} WRU/s at 1,000 a partition, so {useful:,} at"
            f" most (and every results read queries each shard; the template takes {MAX_SHARDS:,})"
        )


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
    stage = validate(replace(Stage(name=name), **settings))  # a name that cannot be one first
    if name != LOCAL and name not in stages:
        _refuse_a_typo(name, list(stages), overrides)
    return stage


AD_HOC_FLAGS = ("region", "endpoint_url", "profile")
"""A stage that votectl.toml does not define must name one of these on the command line."""


def _refuse_a_typo(name: str, known: list[str], overrides: dict[str, Any]) -> None:
    """A stage the file does not define is an AWS stage made of flags: accepted when a flag
    says where it lives (--region, --endpoint-url, --profile). Without one it is refused when
    votectl.toml defines stages (``prdo`` for ``prod``), or when it reads like ``local``: the
    environment's AWS_DEFAULT_REGION alone must not turn a typo into a stack."""
    if any(overrides.get(flag) for flag in AD_HOC_FLAGS):
        return
    choices = [LOCAL, *known]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not known and not close:
        return  # no votectl.toml to misspell: an ad-hoc stage (its region is checked on use)
    said = f"did you mean {close[0]!r}? " if close else ""
    where = f"stages: {', '.join(choices)}" if known else f"no {CONFIG_FILE} here; stages: local"
    raise ConfigError(
        f"no stage {name!r} in {CONFIG_FILE} ({where})",
        hint=f"{said}pass --stage {close[0] if close else LOCAL}; a new AWS stage needs --region"
        f" (or --endpoint-url) on the command line, or a [stages.{name}] table in {CONFIG_FILE}",
    )


def _with_memories(settings: dict[str, Any]) -> dict[str, Any]:
    """The old single ``memory`` setting as the default of the three function memories."""
    if "memory" in settings:
        memory = settings.pop("memory")
        for key in MEMORY_KEYS:
            settings.setdefault(key, memory)
    return settings
