"""Opt-in: the whole AWS target on a real account, as a user runs it (`pytest -m aws`).

Deselected by default (pyproject.toml: ``-m 'not aws and not soak'``); nothing else in the
suite reaches AWS. It needs credentials the way boto3 finds them (AWS_PROFILE, environment,
SSO) and network to PyPI (bundling fetches msgspec's wheels once). It deploys a stage of its
own (``votectl-it-<random>``, in ``VOTECTL_IT_REGION``, default us-east-1), which the deploy's
canary proves end to end; runs the canary again on its own; and destroys the stage with its
data whatever happened. Cost: a few cents (one stack for a few minutes, a handful of votes).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import votectl as run_votectl

pytestmark = pytest.mark.aws


def votectl(cwd: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return run_votectl(*args, env={"NO_COLOR": "1", "COLUMNS": "200"}, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    import boto3

    if boto3.Session().get_credentials() is None:
        pytest.skip("no AWS credentials: set AWS_PROFILE or the AWS_* variables")
    cwd = tmp_path_factory.mktemp("aws")
    name = f"it{secrets.token_hex(3)}"
    region = os.environ.get("VOTECTL_IT_REGION", "us-east-1")
    (cwd / "votectl.toml").write_text(f'[stages.{name}]\nregion = "{region}"\n')
    try:
        yield cwd, name
    finally:
        done = votectl(cwd, "destroy", "--stage", name, "--yes", "--delete-data", "--force")
        assert done.returncode == 0, f"left behind, destroy it by hand: {done.stderr[-2000:]}"


def test_a_deploy_proves_itself_with_the_canary(stage: tuple[Path, str]) -> None:
    cwd, name = stage
    done = votectl(cwd, "deploy", "--stage", name, "--yes")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "running the canary" in done.stdout + done.stderr


def test_the_canary_passes_on_its_own_and_cleans_up(stage: tuple[Path, str]) -> None:
    cwd, name = stage
    done = votectl(cwd, "canary", "--stage", name, "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    assert result["ok"] is True


def test_the_table_holds_no_canary_item_after(stage: tuple[Path, str]) -> None:
    cwd, name = stage
    done = votectl(cwd, "results", "--stage", name, "--json", timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "votectl-canary" not in done.stdout
