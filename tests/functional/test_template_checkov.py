"""checkov on the template: nothing but the findings docs/how-it-works.md lists with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from votectl.aws.stack import template_body

# checkov's findings we accept, each with its reason (docs/how-it-works.md, "The stack", keeps
# the same list)
ACCEPTED = {
    "CKV_AWS_27": "SQS queues use SQS-managed SSE (SqsManagedSseEnabled); a CMK adds KMS calls",
    "CKV_AWS_119": "the table is encrypted with the AWS-owned key; a CMK adds KMS cost",
    "CKV_AWS_158": "log groups are encrypted by CloudWatch Logs; a CMK adds KMS cost",
    "CKV_AWS_116": "no asynchronous invocations (SQS and the API): the DLQs are on the queues",
    "CKV_AWS_117": "no VPC resources to reach; a VPC would add NAT or endpoint cost",
    "CKV_AWS_173": "environment variables hold queue URLs and a table name, no secrets",
    "CKV_AWS_26": "CloudWatch cannot publish to a topic under the AWS-managed SNS key",
}


CHECKOV = "checkov>=3.3"


def checkov_command() -> list[str] | None:
    """$VOTECTL_CHECKOV, or checkov in a virtualenv of its own, made on first use under
    ~/.cache/votectl (its pins would break this environment's Locust, see pyproject.toml);
    None where it cannot be installed (no package index)."""
    if os.environ.get("VOTECTL_CHECKOV"):
        return [os.environ["VOTECTL_CHECKOV"]]
    cache = Path(os.environ.get("VOTECTL_TOOLS_CACHE", Path.home() / ".cache" / "votectl"))
    venv = cache / "checkov-venv"
    checkov = venv / "bin" / "checkov"
    if not checkov.exists():
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", CHECKOV],
        ]
        for step in steps:
            if subprocess.run(step, capture_output=True, timeout=600).returncode != 0:
                return None
    return [str(checkov)]


def test_checkov_finds_nothing_but_the_accepted_findings(tmp_path: Path) -> None:
    command = checkov_command()
    if command is None:
        pytest.skip(f"could not install {CHECKOV} into a virtualenv of its own (no index?)")
    template = tmp_path / "template.yaml"
    template.write_text(template_body())
    done = subprocess.run(
        [*command, "-f", str(template), "--framework", "cloudformation", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": ""},
    )
    report = json.loads(done.stdout)
    failed = {check["check_id"] for check in report["results"]["failed_checks"]}
    assert failed == set(ACCEPTED), [
        (c["check_id"], c["resource"])
        for c in report["results"]["failed_checks"]
        if c["check_id"] not in ACCEPTED
    ]
    assert report["summary"]["passed"] > 30
