"""`votectl deploy --dry-run` with stage auth = "jwt" against moto: the change set adds the
authorizer; nothing is created. (moto's CloudFormation accepts AWS::ApiGatewayV2::* in a change
set and lists them, though it creates none of them, and ignores Conditions when listing.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.functional.test_aws_deploy import STAGE, Recorder
from votectl.aws.deploy import deploy
from votectl.aws.session import Aws

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

ROOT = Path(__file__).resolve().parents[2]  # this checkout's votectl, whatever cwd is
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
JWT = replace(STAGE, auth="jwt", jwt_issuer=ISSUER, jwt_audience="votes-api")


def test_a_dry_run_with_auth_jwt_shows_the_authorizer_and_creates_nothing(
    mocked_aws: None, wheel_cache: Path, tmp_path: Path
) -> None:
    shown = Recorder()
    result = deploy(Aws(JWT), shown, out_dir=tmp_path, dry_run=True)
    assert result.outcome == "dry-run"
    added = {c.logical_id for c in result.changes}
    assert {"JwtAuthorizer", "VotesRoute", "HealthRoute", "HttpApi"} <= added
    cfn = Aws(JWT).client("cloudformation")
    assert cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []
    # moto lists conditioned resources whatever the condition, so auth none cannot be told
    # apart here; cfn-lint checks both branches (tests/unit/test_template_auth.py)


def test_cli_deploy_dry_run_with_auth_jwt_from_votectl_toml(
    moto_url: str,
    tmp_path: Path,
    aws_env: dict[str, str],
    wheel_cache: Path,
) -> None:
    (tmp_path / "votectl.toml").write_text(
        '[stages.dev]\nregion = "us-east-1"\nauth = "jwt"\n'
        f'jwt_issuer = "{ISSUER}"\njwt_audience = "votes-api"\n'
        'cors_origins = ["https://app.example"]\n'
        '[stages.broken]\nregion = "us-east-1"\nauth = "jwt"\n'
    )

    def run(stage: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "votectl", "deploy", "--stage", stage, "--endpoint-url",
             moto_url, "--dry-run", "--json"],
            cwd=tmp_path,
            env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1",
                 "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip

    done = run("dev")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["outcome"] == "dry-run"
    assert "JwtAuthorizer" in {c["logical_id"] for c in payload["changes"]}
    broken = run("broken")
    assert broken.returncode == 2 and "jwt_issuer" in broken.stderr
    assert "Traceback" not in broken.stderr
