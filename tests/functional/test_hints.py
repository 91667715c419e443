"""Hints that say what is wrong: a flag's error names the flag, a misspelled stage lists the
known ones, 401s say "token", an emulator's missing endpoint is not "deploy it"; the change set
notes what an emulator will not create; `bundle` says where it builds."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.functional.conftest import ROOT, Up, short_loadtest, votectl


def test_a_bad_auth_flag_names_the_flag(tmp_path: Path) -> None:
    done = votectl("up", "--auth", "JWT", "--port", "0", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "--auth must be none or jwt, got 'JWT'" in done.stderr
    assert "votectl.toml" not in done.stderr and "--auth jwt" in done.stderr


def test_a_misspelled_stage_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "votectl.toml").write_text(
        '[stages.dev]\nregion = "us-east-1"\n\n[stages.prod]\nregion = "eu-west-1"\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "votectl", "status", "--stage", "prd"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "no stage 'prd' in votectl.toml (stages: local, dev, prod)" in done.stderr
    assert "has no region" not in done.stderr


def test_401s_say_token(up_factory: Callable[..., Up], tmp_path: Path) -> None:
    up = up_factory("--auth", "jwt")
    done = short_loadtest(up, tmp_path)
    assert done.returncode == 1
    assert "401 Unauthorized" in done.stderr and "--token-file" in done.stderr


def test_on_moto_the_plan_notes_what_it_will_not_create_and_loadtest_says_why(
    cli: Any, moto_url: str, tmp_path: Path
) -> None:
    # a stage of its own: moto's state is shared by the servers of one test process
    with (tmp_path / "votectl.toml").open("a") as toml:
        toml.write('\n[stages.hints]\nregion = "us-east-1"\n')
    target = ("--stage", "hints", "--endpoint-url", moto_url)
    plan = cli("deploy", *target, "--dry-run", env={"COLUMNS": "200"}).stdout
    for resource in ("JwtAuthorizer", "ReceiverUrl", "AlarmEmailSubscription", "HttpApi"):
        line = next((row for row in plan.splitlines() if f" {resource} " in row), None)
        if line is not None:  # in the template with these settings
            assert "not created by the emulator" in line, line
    assert "not created by the emulator" in plan
    assert "the deploy goes on without them" in " ".join(plan.split())
    cli("deploy", *target, "--yes")
    try:
        done = cli("loadtest", *target, "-t", "1s", code=1)
    finally:  # leave moto's shared state as found: other tests list every queue
        cli("destroy", *target, "--yes")
    assert "made no HTTP endpoint" in done.stderr and "moto" in done.stderr
    assert "deploy it" not in done.stderr


def test_bundle_says_where_it_builds(tmp_path: Path) -> None:
    out = tmp_path / "zips"
    done = votectl("bundle", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"building receiver, processor, writer into {out}" in done.stderr
    assert str(out) in done.stdout
