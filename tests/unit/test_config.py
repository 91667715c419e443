"""Stage settings: votectl.toml + overrides -> Stage, and every bad setting a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from votectl.config import Stage, in_config, load_stage
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
    assert (stage.region, stage.memory, stage.profile) == ("us-east-1", 1024, None)
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
    ],
)
def test_bad_settings_are_config_errors(tmp_path: Path, body: str, words: str) -> None:
    path = config(tmp_path, f"[stages.prod]\n{body}\n")
    with pytest.raises(ConfigError, match=words):
        load_stage("prod", config_path=path)


@pytest.mark.parametrize("text", [None, "[stages.prod]\n"])
def test_a_stage_named_by_flags_alone_needs_no_file(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "votectl.toml" if text is None else config(tmp_path, text)
    stage = load_stage("staging", config_path=path, region="us-east-1", endpoint_url="http://e")
    assert (stage.name, stage.region, stage.endpoint_url) == ("staging", "us-east-1", "http://e")
    assert stage.stack_name == "votectl-staging" and not stage.is_local
    assert stage.memory == Stage().memory
    assert not in_config("staging", config_path=path)
    assert in_config("prod", config_path=path) is (text is not None)
