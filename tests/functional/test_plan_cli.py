"""`votectl plan` as a user runs it: a subprocess in a directory with (or without) votectl.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = """
[stages.prod]
region = "eu-west-1"
front_door = "function-url"
writer_max_concurrency = 2
receiver_reserved_concurrency = 300

[stages.bad]
region = "eu-west-1"
front_door = "carrier-pigeon"
"""


def run(cwd: Path, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "votectl", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture
def here(tmp_path: Path) -> Path:
    (tmp_path / "votectl.toml").write_text(STAGES)
    return tmp_path


def test_the_default_stage_fits_40k_votes_in_batches(tmp_path: Path) -> None:
    done = run(tmp_path, "plan", "--rate", "40000/s", "--batch-size", "100", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["fits"] is True and data["fixes"] == []
    assert (data["votes_per_s"], data["batch_size"], data["requests_per_s"]) == (40000, 100, 400)
    assert data["binding"]["component"] == "table"
    assert [c["name"] for c in data["components"]] == [
        "api",
        "receiver",
        "votes queue",
        "processor",
        "ready queue",
        "writer",
        "table",
    ]
    assert data["cost"]["switch"]["front_door"] == "function-url"
    assert data["cost"]["switch"]["saves_monthly_usd"] > 0


def test_single_votes_name_the_api_quota(tmp_path: Path) -> None:
    done = run(tmp_path, "plan", "--rate", "40000/s", "--batch-size", "1")
    assert done.returncode == 1
    assert "binds first (AWS quota): api: API Gateway throttle" in done.stdout
    assert "request an API Gateway throttle quota increase" in done.stdout
    assert done.stderr.count("error:") == 1 and "API Gateway throttle" in done.stderr
    as_json = run(tmp_path, "plan", "--rate", "40000/s", "--batch-size", "1", "--json")
    assert as_json.returncode == 1
    binding = json.loads(as_json.stdout)["binding"]
    assert (binding["component"], binding["kind"], binding["value"]) == ("api", "quota", 10000)


def test_a_configured_stage_is_planned_as_configured(here: Path) -> None:
    done = run(
        here, "plan", "--stage", "prod", "--rate", "1.2M/min", "--batch-size", "50", "--json"
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert (data["stage"], data["front_door"], data["votes_per_s"]) == (
        "prod",
        "function-url",
        20000,
    )
    api = data["components"][0]
    assert api["limits"] == [] and api["cost"]["monthly_usd"] == 0
    writer = data["components"][5]["needs"]["concurrency"]
    assert f"raise writer_max_concurrency to {int(-(-writer // 1))}" in data["fixes"]
    assert data["binding_setting"]["limit"] == "writer_max_concurrency (MaximumConcurrency)"
    assert data["cost"]["switch"]["front_door"] == "http-api"
    assert data["cost"]["switch"]["saves_monthly_usd"] < 0  # the gateway costs more


@pytest.mark.parametrize(
    "args,needle",
    [
        (("--rate", "fast"), "20000/s"),
        (("--rate", "0/s"), "above zero"),
        (("--batch-size", "0"), "batch-size"),
        (("--batch-size", "501"), "batch-size"),
        (("--titles", "0"), "titles"),
        (("--zipf-s", "-1"), "zipf-s"),
        (("--stage", "bad"), "front_door"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(here: Path, args: tuple[str, ...], needle: str) -> None:
    done = run(here, "plan", *args)
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr
    assert done.stdout == ""


def test_figures_from_the_benchmark(tmp_path: Path) -> None:
    figures = {
        "receiver": {
            "memory_mb": 256,
            "votes_per_s_per_invocation": 100,
            "votes_per_s_per_invocation_batch_100": 5000,
        },
        "processor": {"memory_mb": 512, "votes_per_s_per_invocation": 20000},
        "writer": {"memory_mb": 1769, "votes_per_s_per_invocation": 400},
        "command": "python benchmarks/aws_capacity.py --json",
        "date": "2026-11-28",
    }
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    args = ("plan", "--rate", "40k/s", "--batch-size", "100", "--figures", "figures.json")
    done = run(tmp_path, *args, "--json")
    # 400 votes/s per writer at 1,769 MB is 232 at the default 1,024 MB: 173 writers, not 20
    data = json.loads(done.stdout)
    assert data["measured"]["estimate"] is False and data["measured"]["date"] == "2026-11-28"
    assert done.returncode == 1
    assert any(f.startswith("raise writer_max_concurrency to 173") for f in data["fixes"]), data

    (tmp_path / "bad.json").write_text('{"receiver": {}}')
    bad = run(tmp_path, "plan", "--figures", "bad.json")
    assert bad.returncode == 2 and "benchmarks/aws_capacity.py" in bad.stderr
    missing = run(tmp_path, "plan", "--figures", "nope.json")
    assert missing.returncode == 2 and "nope.json" in missing.stderr
