"""Stage settings: votectl.toml + overrides -> Stage, and every bad setting a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from votectl.config import Stage, load_stage
from votectl.errors import ConfigError, UnknownStage


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


def test_an_unknown_stage_names_the_known_ones(tmp_path: Path) -> None:
    path = config(tmp_path, "[stages.prod]\n")
    with pytest.raises(UnknownStage, match="known: local, prod"):
        load_stage("staging", config_path=path)
