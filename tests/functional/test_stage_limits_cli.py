"""A stage setting AWS would refuse stops `votectl deploy` and `plan` with exit 2 and one line
naming the setting and its limit, before anything is bundled or any AWS endpoint is called."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.functional.conftest import votectl

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "http://127.0.0.1:9"  # the discard port: a call there would fail, not hang

CASES = [
    ("table_shards = 1000000000", "table_shards 1,000,000,000 is more than the key design"),
    ("writer_reserved_concurrency = 1000000000", "above the account's 1,000 concurrent"),
    ("table_warm_write_units = 1000000000000", "above the table-level write quota"),
    ('alarm_email = "a@b,x"', "alarm_email must be one email address"),
    ("log_retention_days = 10", "log_retention_days must be one of"),
    ('front_door = "function-url"', "function-url needs receiver_reserved_concurrency"),
    ('write_path = "fast"', "write_path must be partiql or classic"),
]


ENV = {"PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200", "AWS_ACCESS_KEY_ID": "x"}
ENV |= {"AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true"}


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return votectl(*args, env=ENV, cwd=cwd, timeout=60)


@pytest.mark.parametrize(("setting", "words"), CASES)
def test_deploy_refuses_before_bundling(tmp_path: Path, setting: str, words: str) -> None:
    (tmp_path / "votectl.toml").write_text(f'[stages.dev]\nregion = "us-east-1"\n{setting}\n')
    args = ("--stage", "dev", "--endpoint-url", NOWHERE, "--yes", "--out", "dist")
    done = run(tmp_path, "deploy", *args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and done.stderr.count("error:") == 1
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "dist").exists()  # nothing bundled
    planned = run(tmp_path, "plan", "--stage", "dev")
    assert planned.returncode == 2 and words in planned.stderr


def test_a_stage_name_with_a_newline_cannot_name_a_stack(tmp_path: Path) -> None:
    done = run(tmp_path, "deploy", "--stage", "dev\n", "--endpoint-url", NOWHERE, "--yes")
    assert done.returncode == 2
    assert "cannot name a stack" in done.stderr and "letters, digits and hyphens" in done.stderr
