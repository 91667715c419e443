"""Stage settings: votectl.toml + overrides -> Stage, and every bad setting a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from votectl.config import Stage, in_config, load_stage, validate
from votectl.errors import ConfigError


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "votectl.toml"
    path.write_text(text)
    return path


def test_local_is_the_default_and_needs_no_file(tmp_path: Path) -> None:
    stage = load_stage(None, config_path=tmp_path / "missing.toml")
    assert stage.is_local and stage == Stage()


def test_a_stage_from_the_file_with_flag_overrides(tmp_path: Path) -> None:
    path = config(tmp_path, '[stages.prod]\nregion = "eu-west-1"\nmemory = 1024\n')
    stage = load_stage("prod", config_path=path, region="us-east-1", profile=None)
    assert (stage.region, stage.writer_memory, stage.profile) == ("us-east-1", 1024, None)
    assert stage.stack_name == "votectl-prod" and not stage.is_local


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('memory = "big"', "memory must be a whole number"),
        ("memory = true", "memory must be a whole number"),
        ("region = 1", "region must be a string"),
        ("region = true", "region must be a string"),
        ("nonsense = 1", "unknown setting 'nonsense'"),
        ('architecture = "sparc"', "architecture must be arm64 or x86_64"),
        ("writer_memory = 127", r"writer_memory must be 128\.\.10240, got 127"),
        ("memory = 10241", r"receiver_memory must be 128\.\.10240, got 10241"),
        ("receiver_reserved_concurrency = -1", "receiver_reserved_concurrency must be 0 or more"),
        ("table_warm_write_units = -5", "table_warm_write_units must be 0 or more"),
        ("message_retention_days = 15", r"message_retention_days must be 1\.\.14"),
        ("writer_max_concurrency = 1", r"writer_max_concurrency must be 2\.\.1000"),
        ("writer_timeout = 901", r"writer_timeout must be 1\.\.900"),
        ("processor_batch_size = 0", r"processor_batch_size must be 1\.\.10000"),
        ("table_shards = 0", "table_shards must be 1 or more"),
        ('runtime = "python3.10"', "runtime must be one of python3.11, .*python3.14"),
        ('runtime = "python3.15"', "runtime must be one of"),
        ('front_door = "rest-api"', "front_door must be http-api or function-url"),
        ("table_deletion_protection = 1", "table_deletion_protection must be true or false"),
        ('table_deletion_protection = "maybe"', "table_deletion_protection must be true or"),
        ('alarm_email = "ops"', "alarm_email must be one email address"),
        ('alarm_email = "a@b@c"', "alarm_email must be one email address"),
        ('alarm_email = "@b"', "alarm_email must be one email address"),
        ('alarm_email = "a b@c.org"', "alarm_email must be one email address"),
        ("alarm_email = 3", "alarm_email must be a string"),
        (
            "table_max_write_units = 1000\ntable_warm_write_units = 2000",
            "table_warm_write_units must not exceed table_max_write_units",
        ),
        # issue 17: settings AWS would refuse, each named with the limit it breaks
        ("table_shards = 1000000000", r"table_shards 1,000,000,000 is more than .* 40 at most"),
        (  # a raised quota lets the key design use more shards than the template takes
            "table_write_quota = 2000000\ntable_shards = 1500",
            r"table_shards 1,500 is more than .* 1,000 at most",
        ),
        ("throttle_rate = 0", r"throttle_rate must be 1 or more"),
        (
            "receiver_reserved_concurrency = 1000000000",
            r"receiver_reserved_concurrency 1,000,000,000 is above .* \(900\)",
        ),
        (
            "receiver_reserved_concurrency = 500\nwriter_reserved_concurrency = 500",
            r"reserved concurrency in total \(1,020.*\(900\)",
        ),
        (
            "table_warm_write_units = 1000000000000",
            r"table_warm_write_units 1,000,000,000,000 is above the table-level write quota",
        ),
        ('alarm_email = "a@b,x"', "alarm_email must be one email address"),
        ('alarm_email = "a@b.org,c@d.org"', "alarm_email must be one email address"),
        ("log_retention_days = 13", r"log_retention_days must be one of .*1, 3, 5, 7, 14, 30"),
        ("log_retention_days = 0", "log_retention_days must be 1 or more"),
        ('write_path = "batch"', "write_path must be partiql or classic"),
        ('table_kms_key = "alias/mine"', "table_kms_key must be a KMS key ARN"),
        ('front_door = "function-url"', "function-url needs receiver_reserved_concurrency"),
        # the HTTP API's 30 s integration timeout (the template's ReceiverTimeout MaxValue 29)
        ("receiver_timeout = 30", r"receiver_timeout must be 1\.\.29, got 30"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path: Path, body: str, words: str) -> None:
    path = config(tmp_path, f"[stages.prod]\n{body}\n")
    with pytest.raises(ConfigError, match=words):
        load_stage("prod", config_path=path)


def test_defaults_are_valid_and_size_the_stack() -> None:
    stage = validate(Stage(name="prod"))
    assert stage.runtime == "python3.14" and stage.front_door == "http-api"
    assert (stage.receiver_memory, stage.processor_memory, stage.writer_memory) == (512, 512, 1024)
    assert stage.table_deletion_protection is True and stage.message_retention_days == 14
    assert stage.alarm_email is None and stage.table_max_write_units == 0


def test_memory_is_the_default_of_all_three_memories(tmp_path: Path) -> None:
    path = config(tmp_path, "[stages.prod]\nmemory = 2048\nwriter_memory = 3008\n")
    stage = load_stage("prod", config_path=path)
    assert (stage.receiver_memory, stage.processor_memory, stage.writer_memory) == (
        2048,
        2048,
        3008,
    )
    flagged = load_stage("prod", config_path=path, memory=128)
    assert (flagged.receiver_memory, flagged.writer_memory) == (128, 128)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("false", False), ("true", True), ('"no"', False), ('"Yes"', True), ('"off"', False)],
)
def test_booleans_from_toml_or_strings(tmp_path: Path, text: str, expected: bool) -> None:
    path = config(tmp_path, f"[stages.prod]\ntable_deletion_protection = {text}\n")
    assert load_stage("prod", config_path=path).table_deletion_protection is expected


def test_capacity_protection_and_front_door_settings(tmp_path: Path) -> None:
    body = "\n".join(
        [
            "[stages.prod]",
            'runtime = "python3.11"',
            "receiver_reserved_concurrency = 300",
            "writer_reserved_concurrency = 60",
            "table_warm_write_units = 20000",
            "table_warm_read_units = 15000",
            "table_max_write_units = 30000",
            "message_retention_days = 7",
            'alarm_email = "ops@example.org"',
            'front_door = "function-url"',
            "",
        ]
    )
    stage = load_stage("prod", config_path=config(tmp_path, body))
    assert stage.runtime == "python3.11" and stage.front_door == "function-url"
    assert (stage.receiver_reserved_concurrency, stage.processor_reserved_concurrency) == (300, 0)
    assert (stage.table_warm_write_units, stage.table_warm_read_units) == (20000, 15000)
    assert (stage.table_max_write_units, stage.message_retention_days) == (30000, 7)
    assert stage.alarm_email == "ops@example.org"


def test_flag_overrides_are_validated_too(tmp_path: Path) -> None:
    path = config(tmp_path, "[stages.prod]\n")
    with pytest.raises(ConfigError, match="front_door must be"):
        load_stage("prod", config_path=path, front_door="cdn")


@pytest.mark.parametrize("text", [None, "[stages.prod]\n"])
def test_a_stage_named_by_flags_alone_needs_no_file(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "votectl.toml" if text is None else config(tmp_path, text)
    stage = load_stage("staging", config_path=path, region="us-east-1", endpoint_url="http://e")
    assert (stage.name, stage.region, stage.endpoint_url) == ("staging", "us-east-1", "http://e")
    assert stage.stack_name == "votectl-staging" and not stage.is_local
    assert stage.writer_memory == Stage().writer_memory
    assert not in_config("staging", config_path=path)
    assert in_config("prod", config_path=path) is (text is not None)


@pytest.mark.parametrize("name", ["dev\n", "dev ", "1dev", "dev_x", "d" * 41, ""])
def test_a_stage_name_that_cannot_name_a_stack_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="cannot name a stack") as caught:
        load_stage(name or " ", config_path=tmp_path / "missing.toml")
    assert "letters, digits and hyphens" in str(caught.value)


def test_raised_quotas_let_larger_settings_through(tmp_path: Path) -> None:
    """The account's quotas are stage settings: raised with AWS first, then here."""
    body = (
        "[stages.big]\naccount_concurrency = 5000\ntable_write_quota = 80000\n"
        "receiver_reserved_concurrency = 2000\ntable_warm_write_units = 80000\ntable_shards = 80\n"
    )
    stage = load_stage("big", config_path=config(tmp_path, body))
    assert stage.reserved("receiver") == 2000 and stage.table_shards == 80


def test_processor_and_writer_reserve_their_maximum_concurrency_by_default() -> None:
    stage = validate(Stage(name="prod"))
    assert stage.reserved("processor") == stage.processor_max_concurrency
    assert stage.reserved("writer") == stage.writer_max_concurrency
    assert stage.reserved("receiver") == 0
