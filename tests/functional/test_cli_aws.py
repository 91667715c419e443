"""The AWS commands as a user types them, against a moto server: a stage named by flags alone,
destroy twice (and declined), deploy's outputs never cut."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_a_stage_named_by_flags_alone_works_for_every_command(
    cli: Any, moto_url: str, tmp_path: Path
) -> None:
    (tmp_path / "votectl.toml").unlink()  # the README calls the file optional
    target = ("--stage", "somename", "--region", "us-east-1", "--endpoint-url", moto_url)
    deployed = cli("deploy", *target, "--yes", "--json")
    first = deployed.stderr.strip().splitlines()[0]
    assert "stage 'somename' is not in votectl.toml" in first  # before anything is created
    assert json.loads(deployed.stdout)["outcome"] == "deployed"
    assert json.loads(cli("status", *target, "--json").stdout)["stack"] == "votectl-somename"
    stats = json.loads(cli("queue", "stats", *target, "--json").stdout)
    assert {q["name"] for q in stats["queues"]} == {"votes", "votes-dlq", "ready", "ready-dlq"}
    assert json.loads(cli("table", "count", *target, "--json").stdout)["count"] == 0
    assert json.loads(cli("redrive", *target, "--json").stdout)["moved"] == 0
    gone = json.loads(cli("destroy", *target, "--yes", "--json").stdout)
    assert (gone["deleted"], gone["outcome"]) == (True, "deleted")


def test_deploy_outputs_are_never_cut(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    human = cli("deploy", *target, "--yes", env={"COLUMNS": "60"}).stdout
    as_json = json.loads(cli("deploy", *target, "--yes", "--json").stdout)
    urls = [v for v in as_json["outputs"].values() if v and v.startswith("http")]
    assert urls, as_json["outputs"]
    lines = human.splitlines()
    for url in urls:
        assert len(url) > 60 and any(url in line for line in lines), (url, human)
    assert "…" not in human and "..." not in human


def test_destroy_twice_and_purge_all_succeed(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    cli("deploy", *target, "--yes")
    # --force: earlier tests of this module left votes in the shared moto server's queues
    first = json.loads(cli("destroy", *target, "--yes", "--force", "--json").stdout)
    assert (first["deleted"], first["outcome"]) == (True, "deleted")
    again = cli("destroy", *target, "--yes")
    assert "already gone" in again.stdout and "error" not in again.stderr
    again_json = json.loads(cli("destroy", *target, "--yes", "--json").stdout)
    assert (again_json["deleted"], again_json["outcome"]) == (False, "already-gone")
    purged = json.loads(cli("destroy", *target, "--yes", "--purge", "--json").stdout)
    assert (purged["deleted"], purged["bucket_kept"], purged["outcome"]) == (
        False,
        False,
        "already-gone",
    )


def _answer(args: list[str], answer: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run votectl with a terminal on stdin (so it may ask), answer, return (exit, stdout)."""
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "votectl", *args],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            text=True,
        )
        os.write(controller, answer.encode())
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)
    return proc.returncode, out


def test_declining_destroy_exits_0_and_says_so(cli: Any, moto_url: str, tmp_path: Path) -> None:
    target = ["--stage", "dev", "--endpoint-url", moto_url]
    cli("deploy", *target, "--yes")
    code, out = _answer(["destroy", *target, "--force"], "n\n", tmp_path, cli.env)
    assert code == 0 and "not destroyed" in out
    status = json.loads(cli("status", *target, "--json").stdout)
    assert status["status"] == "CREATE_COMPLETE"  # untouched


def test_cli_bundle_writes_one_zip_per_function(tmp_path: Path, wheel_cache: Path) -> None:
    """`votectl bundle --out DIR --arch x86_64 --json` as the README shows it (the wheel cache
    filled by the fixture, so no network): three zips whose sha256 the JSON names."""
    import hashlib

    out = tmp_path / "dist"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "votectl",
            "bundle",
            "--out",
            str(out),
            "--arch",
            "x86_64",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    zips = sorted(out.glob("*.zip"))
    assert [z.name.split("-")[0].split(".")[0] for z in zips] == ["processor", "receiver", "writer"]
    digests = json.dumps(report)
    for z in zips:
        assert hashlib.sha256(z.read_bytes()).hexdigest() in digests
