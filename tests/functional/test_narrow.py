"""Nothing a user needs is cut on a narrow terminal: help keeps every option name whole and
wraps at word boundaries; a table that does not fit becomes one record per block, with every
value (hash, name, URL) whole."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.functional.conftest import votectl
from votectl.cli.app import app


def _commands() -> list[tuple[list[str], list[str]]]:
    """Every command's path and its options' long names."""
    found: list[tuple[list[str], list[str]]] = []

    def walk(command: object, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
            return
        names = [o for p in getattr(command, "params", []) for o in p.opts if o.startswith("--")]
        found.append((path, names))

    walk(typer.main.get_command(app), [])
    return found


HELP_OF_EVERY_COMMAND = """
import json, sys
from typer.testing import CliRunner
from votectl.cli.app import app
runner = CliRunner()
out = {}
for path in json.loads(sys.argv[1]):
    done = runner.invoke(app, [*path, "--help"])
    out[" ".join(path)] = [done.exit_code, done.output]
print(json.dumps(out))
"""


@pytest.mark.parametrize("columns", [80, 40])
def test_help_cuts_nothing(columns: int) -> None:
    """Every command's --help, rendered in one process on a terminal ``columns`` wide (the
    same text `votectl CMD --help` prints there: one process, not one per command)."""
    commands = _commands()
    done = subprocess.run(
        [sys.executable, "-c", HELP_OF_EVERY_COMMAND, json.dumps([p for p, _ in commands])],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    helps = json.loads(done.stdout)
    for path, options in commands:
        code, text = helps[" ".join(path)]
        assert code == 0, (path, text)
        assert "…" not in text and "..." not in text.replace("[ARGS]...", ""), (path, text)
        words = set(re.findall(r"--[a-z][a-z0-9-]*", text))
        assert set(options) <= words, (path, set(options) - words)
        for line in text.splitlines():  # wrapped at words: only a single word may overrun
            assert len(line) < columns or " " not in line.strip(), (path, line)


def test_one_process_prints_the_help_votectl_prints() -> None:
    """The renderer above against `votectl CMD --help` itself, for one command at 40 columns."""
    env = {**os.environ, "COLUMNS": "40", "NO_COLOR": "1"}
    path = ["deploy"]
    alone = votectl(*path, "--help", env={"COLUMNS": "40", "NO_COLOR": "1"}).stdout
    together = subprocess.run(
        [sys.executable, "-c", HELP_OF_EVERY_COMMAND, json.dumps([path])],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert json.loads(together.stdout)["deploy"] == [0, alone]


def test_help_sentences_break_between_words() -> None:
    done = votectl("loadtest", "--help", env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert "--max-failure-ratio" in done.stdout and "REPORT_DIR/report.html" in done.stdout
    flat = " ".join(done.stdout.split())
    assert "Exit 1 if more than this fraction of requests failed." in flat


@pytest.mark.parametrize("columns", [80, 40])
def test_tables_keep_every_value_whole(tmp_path: Path, columns: int) -> None:
    env = {"COLUMNS": str(columns), "NO_COLOR": "1"}
    (tmp_path / "votes-table.db").touch()
    votectl("queue", "stats", "--data-dir", str(tmp_path))  # makes the queue files
    stats = votectl("queue", "stats", "--data-dir", str(tmp_path), env=env)
    assert stats.returncode == 0, stats.stderr
    for name in ("votes", "votes-dlq", "ready", "ready-dlq", "in flight", "visible", "delayed"):
        assert name in stats.stdout, (name, stats.stdout)
    assert "…" not in stats.stdout


@pytest.mark.parametrize("columns", [80, 40])
def test_bundle_hashes_are_whole(tmp_path: Path, columns: int) -> None:
    out = tmp_path / "dist"
    wide = votectl("bundle", "--out", str(out), "--json")
    assert wide.returncode == 0, wide.stderr
    hashes = [z["sha256"] for z in json.loads(wide.stdout)["artifacts"]]
    narrow = votectl("bundle", "--out", str(out), env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    assert narrow.returncode == 0, narrow.stderr
    assert all(len(h) == 64 and h in narrow.stdout for h in hashes), narrow.stdout
    assert "…" not in narrow.stdout
