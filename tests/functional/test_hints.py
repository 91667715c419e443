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

import pytest

from tests.functional.conftest import ROOT, Up, short_loadtest, votectl


def test_a_bad_auth_flag_names_the_flag(tmp_path: Path) -> None:
    done = votectl("up", "--auth", "JWT", "--port", "0", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "--auth must be none or jwt, got 'JWT'" in done.stderr
    assert "votectl.toml" not in done.stderr and "--auth jwt" in done.stderr


def _in_dir(tmp_path: Path, *args: str, region: str | None = None, keys: bool = True) -> Any:
    """votectl in ``tmp_path``, AWS_DEFAULT_REGION as given, keys or none; every AWS call would
    go to a closed port (AWS_ENDPOINT_URL), so a typo accepted by mistake cannot reach AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "PYTHONPATH": str(ROOT)}
    env |= {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    if keys:
        env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env |= {"AWS_EC2_METADATA_DISABLED": "true"}
    if region:
        env["AWS_DEFAULT_REGION"] = region
    return subprocess.run(
        [sys.executable, "-m", "votectl", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("region", [None, "us-east-1"])
@pytest.mark.parametrize("command", [["status"], ["deploy", "--yes"], ["plan"]])
def test_a_misspelled_stage_lists_the_known_ones(
    tmp_path: Path, region: str | None, command: list[str]
) -> None:
    """With AWS_DEFAULT_REGION set too: the environment alone does not make a typo a stage."""
    (tmp_path / "votectl.toml").write_text(
        '[stages.dev]\nregion = "us-east-1"\n\n[stages.prod]\nregion = "eu-west-1"\n'
    )
    done = _in_dir(tmp_path, *command, "--stage", "prd", region=region)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "error: no stage 'prd' in votectl.toml (stages: local, dev, prod)"
    assert lines[1].startswith("hint: did you mean 'prod'?") and "--region" in lines[1]
    assert len(lines) == 2 and "has no region" not in done.stderr


def test_no_credentials_for_an_emulator_says_any_will_do(tmp_path: Path) -> None:
    flags = ("--stage", "emu", "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1")
    done = _in_dir(tmp_path, "queue", "stats", *flags, keys=False)
    assert done.returncode == 1, done.stderr
    assert "no AWS credentials found" in done.stderr
    assert "takes any credentials" in done.stderr and "AWS_ACCESS_KEY_ID=testing" in done.stderr


def test_a_misspelled_local_is_refused_without_votectl_toml(tmp_path: Path) -> None:
    done = _in_dir(tmp_path, "queue", "stats", "--stage", "lcoal", region="us-east-1")
    assert done.returncode == 2, done.stderr
    assert "no stage 'lcoal'" in done.stderr and "did you mean 'local'?" in done.stderr


def test_a_new_stage_named_with_its_region_is_still_an_aws_stage(tmp_path: Path) -> None:
    """The rule's other side: --region on the command line says the stage is meant."""
    (tmp_path / "votectl.toml").write_text('[stages.prod]\nregion = "eu-west-1"\n')
    done = _in_dir(tmp_path, "status", "--stage", "scratch", "--region", "us-east-1")
    assert done.returncode == 1, done.stderr  # it reached for the (closed) endpoint
    assert "votectl-scratch" in done.stderr and "no stage" not in done.stderr
    helped = _in_dir(tmp_path, "status", "--help")  # --stage's help says the rule too
    assert "(with --region or --endpoint-url)" in " ".join(helped.stdout.split())


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
