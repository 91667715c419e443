"""`votectl canary` end to end: a real `votectl up` (plain, --chaos writer=1 or processor=1,
--auth jwt) and a real moto server, each through the CLI as a subprocess."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import Up, votectl

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

TOP_KEYS = {
    "ok", "run_id", "via", "door", "user_id", "title_id", "votes", "write_path", "dlqs",
    "deleted", "leftover", "notes", "hop", "error", "queues", "logs",
}  # fmt: skip
VOTE_KEYS = {
    "name", "aspect", "score", "voted_at", "expect", "outcome", "status", "correlation_id",
    "latency_ms",
}  # fmt: skip


def canary_items(up: Up, title: str) -> int:
    """Rows of the canary's title in the table, read straight from SQLite."""
    con = sqlite3.connect(up.data_dir / "votes-table.db")
    try:
        row = con.execute("SELECT count(*) FROM votes WHERE title_id = ?", (title,)).fetchone()
        return int(row[0])
    finally:
        con.close()


def assert_schema(doc: dict[str, Any]) -> None:
    assert set(doc) == TOP_KEYS
    assert all(set(v) == VOTE_KEYS for v in doc["votes"])
    assert all(set(d) == {"name", "before", "after"} for d in doc["dlqs"])
    assert {d["name"] for d in doc["dlqs"]} == {"votes-dlq", "ready-dlq"}


def test_canary_passes_on_the_local_target_and_leaves_nothing(
    up_factory: Callable[..., Up],
) -> None:
    up = up_factory("--visibility-timeout", "2")
    done = votectl("canary", "--data-dir", str(up.data_dir), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert_schema(doc)
    assert doc["ok"] is True and doc["hop"] is None and doc["via"] == "http"
    assert doc["door"] == up.url
    assert doc["title_id"].startswith("votectl-canary-") and doc["user_id"] == doc["title_id"]
    votes = {v["name"]: v for v in doc["votes"]}
    assert list(votes) == ["first", "re-vote", "older", "refused"]
    assert [(v["status"], v["outcome"]) for v in votes.values()] == [
        (202, "stored"), (202, "wins"), (202, "loses"), (400, "refused"),
    ]  # fmt: skip
    assert all(v["latency_ms"] is not None and v["latency_ms"] >= 0 for v in votes.values())
    assert all(votes[n]["correlation_id"] for n in ("first", "re-vote", "older"))
    assert doc["write_path"] == "local"
    assert all(d["after"] == d["before"] for d in doc["dlqs"])
    assert (doc["deleted"], doc["leftover"]) == (2, 0)
    assert canary_items(up, doc["title_id"]) == 0
    # a second run is a new identity, and the human form says the same
    again = votectl("canary", "--data-dir", str(up.data_dir))
    assert again.returncode == 0, again.stderr
    assert doc["run_id"] not in again.stdout and "re-vote" in again.stdout
    assert up.stored() == 0


def test_canary_names_the_writer_when_the_writer_fails(up_factory: Callable[..., Up]) -> None:
    up = up_factory("--chaos", "writer=1", "--visibility-timeout", "1")
    done = votectl("canary", "--data-dir", str(up.data_dir), "--timeout", "10s", "--json")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "stopped at the writer" in error_lines[0], done.stderr
    assert "ready" in error_lines[0] and "hint:" in done.stderr
    doc = json.loads(done.stdout)
    assert_schema(doc)
    assert (doc["ok"], doc["hop"]) == (False, "writer")
    assert doc["votes"][0]["outcome"] == "pending"
    # the writer's own lines for this run: the failure names the canary's correlation id
    first_id = doc["votes"][0]["correlation_id"]
    assert any("injected failure" in line and first_id in line for line in doc["logs"]), doc["logs"]
    # the lines for its correlation ids: the processor's batch line (INFO) and the writer's failure
    assert all(line.startswith(("writer: ", "processor: ")) for line in doc["logs"]), doc["logs"]
    assert canary_items(up, doc["title_id"]) == 0


def test_canary_names_the_dlq_its_vote_landed_in(up_factory: Callable[..., Up]) -> None:
    """A processor that always fails: after maxReceiveCount receives the vote is in votes-dlq,
    and the canary stops there (it polls the DLQs while it waits), naming the hop, the DLQ and
    the processor's log lines for the vote's correlation id."""
    up = up_factory(
        "--chaos", "processor=1", "--visibility-timeout", "1", "--max-receive-count", "2"
    )
    done = votectl("canary", "--data-dir", str(up.data_dir), "--timeout", "60s", "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    doc = json.loads(done.stdout)
    assert_schema(doc)
    assert (doc["ok"], doc["hop"]) == (False, "processor")
    # stopped because the DLQ gained it, not because the 60 s ran out
    assert "a DLQ gained messages (votes-dlq +1)" in doc["error"], doc["error"]
    assert "the processor failed it to votes-dlq" in doc["error"]
    assert {d["name"]: d["after"] - d["before"] for d in doc["dlqs"]} == {
        "votes-dlq": 1,
        "ready-dlq": 0,
    }
    [first] = doc["votes"]
    assert (first["status"], first["outcome"]) == (202, "pending")
    failing = [line for line in doc["logs"] if "injected failure" in line]
    assert len(failing) >= 2 and all(first["correlation_id"] in line for line in failing)
    assert all(line.startswith("processor: ") for line in doc["logs"]), doc["logs"]
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "votes-dlq" in error_lines[0]
    assert "votectl queue peek votes-dlq" in done.stderr  # the hint
    # the DLQ holds the canary's vote, under the same correlation id
    peek = votectl("queue", "peek", "votes-dlq", "--data-dir", str(up.data_dir), "--json")
    [held] = json.loads(peek.stdout)["messages"]
    assert held["request_id"] == first["correlation_id"]
    assert held["sample"][0]["title_id"] == doc["title_id"]


def test_canary_with_auth_jwt_needs_a_token_and_votes_as_its_subject(
    up_factory: Callable[..., Up], tmp_path: Path
) -> None:
    up = up_factory("--auth", "jwt")
    data = ("--data-dir", str(up.data_dir))
    refused = votectl("canary", *data, "--timeout", "10s")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "stopped at the front door" in refused.stderr and "401" in refused.stderr
    not_a_jwt = votectl("canary", *data, "--token", "nonsense")
    assert not_a_jwt.returncode == 2 and "not a JWT" in not_a_jwt.stderr
    minted = votectl("token", "--user", "votectl-canary-ci", *data)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    done = votectl("canary", *data, "--token", token, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["user_id"] == "votectl-canary-ci" and doc["ok"]
    assert [v["outcome"] for v in doc["votes"]] == ["stored", "wins", "loses", "refused"]
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    from_file = votectl("canary", *data, "--token-file", str(token_file), "--json")
    assert from_file.returncode == 0, from_file.stderr
    assert canary_items(up, doc["title_id"]) == 0
    assert canary_items(up, json.loads(from_file.stdout)["title_id"]) == 0


def test_canary_against_moto_names_the_hop_moto_cannot_run(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    deployed = cli(
        "deploy", *target, "--yes", "--no-canary", "--json", env={"VOTECTL_NO_CANARY": ""}
    )
    assert json.loads(deployed.stdout)["outcome"] == "deployed"
    failed = cli("canary", *target, "--timeout", "20s", "--json", code=1)
    doc = json.loads(failed.stdout)
    assert_schema(doc)
    assert (doc["ok"], doc["hop"], doc["via"]) == (False, "receiver", "invoke")
    assert doc["door"].startswith("votectl-dev-")  # the receiver function, invoked
    assert any("no front door URL" in note for note in doc["notes"]), doc["notes"]
    error_lines = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "stopped at the receiver" in error_lines[0]
    assert "lambda.invoke" in error_lines[0]
    cli("destroy", *target, "--yes")


def test_deploy_runs_the_canary_unless_told_not_to(cli: Any, moto_url: str) -> None:
    target = ("--stage", "canaried", "--region", "us-east-1", "--endpoint-url", moto_url)
    canary_on = {"VOTECTL_NO_CANARY": ""}  # the cli fixture turns it off for other tests
    failed = cli("deploy", *target, "--yes", "--json", code=1, env=canary_on)
    doc = json.loads(failed.stdout)
    assert doc["outcome"] == "deployed" and doc["canary"]["hop"] == "receiver"
    assert "running the canary" in failed.stderr
    again = cli("deploy", *target, "--yes", "--json", env=canary_on)  # no change: no canary
    assert json.loads(again.stdout)["outcome"] == "no-op" and "canary" not in again.stdout
    cli("destroy", *target, "--yes")


def test_canary_without_a_running_pipeline_says_so(tmp_path: Path) -> None:
    done = votectl("canary", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no local pipeline data" in done.stderr and "votectl up" in done.stderr
