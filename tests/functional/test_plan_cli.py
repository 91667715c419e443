"""`votectl plan` as a user runs it: a subprocess in a directory with (or without) votectl.toml."""

from __future__ import annotations

import json
import os
import re
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


def test_40k_votes_in_batches_count_revotes_and_name_the_quota_raise(tmp_path: Path) -> None:
    """Issue 17: re-votes (10 %) and redeliveries (1 %) make 1.12 write units a vote; with 20 %
    headroom 40,000 votes/s need a 53,760 WRU/s table, over the 40,000 default quota."""
    done = run(tmp_path, "plan", "--rate", "40000/s", "--batch-size", "100", "--json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["fits"] is False
    assert data["write_units"]["per_vote"] == 1.12
    assert data["write_units"]["parts"] == {
        "first write": 1.0,
        "re-votes": 0.1,
        "redeliveries": 0.02,
    }
    assert (data["votes_per_s"], data["batch_size"], data["requests_per_s"]) == (40000, 100, 400)
    assert data["binding"]["component"] == "table"
    assert data["binding"]["limit"] == "table write quota (per table)"
    assert any("quota increase to 53,760 WRU/s" in fix for fix in data["fixes"]), data["fixes"]
    table = data["components"][-1]
    assert table["needs"]["write_units_per_s"] == 44800
    assert {"writes", "storage", "backups (PITR)"} <= set(table["cost"]["monthly_by_item_usd"])
    assert data["cost"]["cheaper_write_path"] in ("partiql", "classic")
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


def test_the_same_rate_fits_once_the_quota_is_raised(tmp_path: Path) -> None:
    (tmp_path / "votectl.toml").write_text(
        "[stages.big]\ntable_write_quota = 53760\ntable_warm_write_units = 53760\n"
    )
    args = ("plan", "--stage", "big", "--rate", "40000/s", "--batch-size", "100")
    done = run(tmp_path, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 + 0.10 re-votes + 2 x 0.01 redeliveries = 1.120 WRU per vote (partiql)" in (
        done.stdout
    )
    assert "table limits kept with 20% headroom" in done.stdout
    assert re.search(r"cheaper at 10% re-votes: (partiql|classic)", done.stdout)
    none = run(tmp_path, *args, "--revote-share", "0%", "--redelivery-share", "0", "--json")
    assert json.loads(none.stdout)["write_units"]["per_vote"] == 1.0


def test_plan_with_no_flags_says_what_the_stage_holds(tmp_path: Path) -> None:
    done = run(tmp_path, "plan")
    assert done.returncode == 0, done.stderr
    assert "what stage local holds" in done.stdout
    assert "WRU per vote" in done.stdout and done.stderr == ""
    data = json.loads(run(tmp_path, "plan", "--json").stdout)
    assert data["schema"] == "votectl.plan.holds/1"
    rows = {h["batch_size"]: h for h in data["holds"]}
    assert set(rows) == {1, 100}
    assert rows[1]["binding"]["limit"] == "stage throttle_rate"
    assert 4_990 <= rows[1]["max_votes_per_s"] <= 5_000
    assert rows[100]["binding"]["limit"] == "table write quota (per table)"
    assert 29_700 <= rows[100]["max_votes_per_s"] <= 29_770  # 40,000 / 1.12 / 1.2
    assert all(h["monthly_usd"] > 0 and h["per_million_votes_usd"] > 0 for h in rows.values())
    one = json.loads(run(tmp_path, "plan", "--batch-size", "10", "--json").stdout)
    assert [h["batch_size"] for h in one["holds"]] == [10]


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
    assert api["limits"] == []  # no gateway; only the answers' data transfer out
    assert set(api["cost"]["monthly_by_item_usd"]) == {"responses out"}
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
        (("--revote-share", "150%"), "revote-share"),
        (("--redelivery-share", "lots"), "redelivery-share"),
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


def _plan_blocks() -> list[str]:
    """The ```console blocks of docs/sizing.md that run `votectl plan` (the plan's page)."""
    text = (ROOT / "docs" / "sizing.md").read_text()
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    return [b for b in blocks if b.startswith("$ votectl plan")]


def test_the_sizing_page_plan_commands_run_as_shown(tmp_path: Path) -> None:
    """Every `$ votectl plan ...` block of docs/sizing.md runs with its stated exit code
    (`# exit N`, else 0) and prints what the block shows: all of it (at 118 columns), or,
    where the block elides with `...`, the lines it shows."""
    blocks = _plan_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        command, *shown = block.rstrip("\n").splitlines()
        assert command.startswith("$ votectl plan")
        args = command.removeprefix("$ votectl ").split("  #")[0].split()
        code = re.search(r"#\s*exit (\d)", command)
        done = run(tmp_path, *args, columns=118)
        assert done.returncode == (int(code.group(1)) if code else 0), done.stderr
        printed = [line.rstrip() for line in done.stdout.splitlines()]
        if "..." in shown:
            missing = [line for line in shown if line != "..." and line not in printed]
            assert not missing, missing
        else:
            assert printed == shown, "README block is stale; now:\n" + "\n".join(printed)
