"""The votectl.toml examples of README.md and docs/ load as the stages they show, with the values
they say."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from votectl.aws.stack import check_stage
from votectl.config import load_stage

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    block for page in PAGES for block in re.findall(r"```toml\n(.*?)```", page.read_text(), re.S)
]


def test_the_docs_show_toml() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS)
def test_each_toml_block_loads(block: str, tmp_path: Path) -> None:
    path = tmp_path / "votectl.toml"
    path.write_text(block)
    stages = tomllib.loads(block)["stages"]
    for name, settings in stages.items():
        stage = load_stage(name, config_path=path)
        for key, value in settings.items():
            shown = tuple(value) if isinstance(value, list) else value
            assert getattr(stage, key) == shown, key
        if not stage.is_local:
            check_stage(stage)  # what deploy checks before anything reaches AWS
