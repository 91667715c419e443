"""The Locust scenarios with tokens against a real `votectl up --auth jwt`, and `votectl loadtest`
passing the token options through. Counts are asserted, never speed."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import Up, start_up, votectl
from tests.functional.test_loadtests import lax_server, locust  # noqa: F401 (fixture)
from votectl.loadtest import loadtests_dir
from votectl.local.layout import Layout


@pytest.fixture(scope="module")
def authed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = start_up(tmp_path_factory.mktemp("lt-auth") / "local", "--auth", "jwt")
    yield up
    up.kill_group(signal.SIGINT)
    up.proc.wait(30)


def secret(up: Up) -> str:
    return str(up.data_dir / "jwt-secret")


def users_stored(up: Up) -> set[str]:
    with sqlite3.connect(Layout.of(up.data_dir).table_db) as db:
        return {row[0] for row in db.execute("SELECT DISTINCT user_id FROM votes")}


def names(tmp_path: Path) -> set[str]:
    with open(tmp_path / "locust_stats.csv") as f:
        return {row["Name"] for row in csv.DictReader(f)}


def test_voters_with_minted_tokens_lose_nothing(authed: Up, tmp_path: Path) -> None:
    summary, _ = locust(
        authed.url, tmp_path, "-u", "6", "-t", "3s", "--batch-size", "20",
        "--jwt-secret-file", secret(authed), "SingleVoter", "BatchVoter", "Revoter",
    )  # fmt: skip
    assert summary["requests"] > 0 and summary["failures"] == 0, summary["errors"]
    assert 0 < summary["distinct_votes"] < summary["votes_accepted"]
    authed.drained()
    assert authed.stored() >= summary["distinct_votes"]


def test_each_user_votes_as_its_tokens_sub(authed: Up, tmp_path: Path) -> None:
    data_dir = str(authed.data_dir)
    minted = votectl("token", "--user", "viewer", "--count", "3", "--data-dir", data_dir)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(minted.stdout)
    before = users_stored(authed)
    summary, _ = locust(
        authed.url, tmp_path, "-u", "3", "-r", "3", "-t", "2s", "--token-file", str(tokens),
        "SingleVoter",
    )  # fmt: skip
    assert summary["failures"] == 0 and summary["votes_accepted"] > 0
    authed.drained()
    assert users_stored(authed) - before == {"viewer-0", "viewer-1", "viewer-2"}


def test_without_tokens_an_authenticated_endpoint_refuses_every_vote(
    authed: Up, tmp_path: Path
) -> None:
    summary, _ = locust(authed.url, tmp_path, "-u", "1", "-t", "1s", "SingleVoter", rc=1)
    assert summary["requests"] > 0 and summary["failures"] == summary["requests"]
    assert summary["votes_accepted"] == 0


def test_bad_clients_get_401_or_403_for_every_token_failure(authed: Up, tmp_path: Path) -> None:
    before = authed.stored()
    summary, _ = locust(
        authed.url, tmp_path, "-u", "2", "-t", "3s", "--jwt-secret-file", secret(authed),
        "--csv", str(tmp_path / "locust"), "BadClient",
    )  # fmt: skip
    assert summary["requests"] > 40 and summary["failures"] == 0, summary["errors"]
    seen = names(tmp_path)
    for kind in ("missing", "bad-signature", "alg-none", "expired", "wrong-audience", "other-user"):
        assert f"bad: token-{kind}" in seen
    assert "bad: unknown-field" in seen  # the malformed ones still get their 400
    authed.drained()
    assert summary["votes_accepted"] == 0 and authed.stored() == before


def test_token_failures_fail_a_server_that_accepts_anything(
    lax_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "secret").write_text("s" * 40)
    summary, _ = locust(
        lax_server, tmp_path, "-u", "1", "-t", "2s", "--jwt-secret-file", str(tmp_path / "secret"),
        "BadClient", rc=1,
    )  # fmt: skip
    errors = {(e["name"], e["error"]) for e in summary["errors"]}
    assert ("bad: token-expired", "expected 401, got 202") in errors
    assert ("bad: token-other-user", "expected 403, got 202") in errors


def test_votectl_loadtest_passes_the_token_options(authed: Up, tmp_path: Path) -> None:
    result = votectl(
        "loadtest", "--data-dir", str(authed.data_dir), "--report-dir", str(tmp_path / "r"),
        "-u", "4", "-t", "2s", "-c", "SingleVoter", "--jwt-secret-file", secret(authed), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["requests"]["failures"] == 0 and out["distinct_votes"] > 0 and out["lost"] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--token-file", "t", "--jwt-secret-file", "s"), "not both"),
        (("--token-file", "missing"), "no such file"),
    ],
)
def test_votectl_loadtest_refuses_bad_token_options(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    for name in ("t", "s"):
        (tmp_path / name).write_text("x")
    args = tuple(str(tmp_path / a) if a in ("t", "s", "missing") else a for a in args)
    result = votectl("loadtest", "--no-verify", *args)
    assert result.returncode == 2 and words in result.stderr


def test_locust_refuses_a_token_file_without_tokens(authed: Up, tmp_path: Path) -> None:
    (tmp_path / "tokens.txt").write_text("# nothing here\n\nnot-a-jwt\n")
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(loadtests_dir()), "--host", authed.url,
         "--headless", "-u", "1", "-t", "1s", "--token-file", str(tmp_path / "tokens.txt"),
         "SingleVoter"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "not a JWT" in done.stderr
