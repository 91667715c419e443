"""Bad input at the CLI: one line naming the problem, a hint, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.functional.conftest import votectl
from votectl.local.db import connect
from votectl.local.table import SqliteVoteTable


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("queue", "stats", "--data-dir", "{tmp}/missing"), 1, "no local pipeline data"),
        (("table", "count", "--data-dir", "{tmp}/missing"), 1, "no local pipeline data"),
        (("up", "--chaos", "writer=2", "--data-dir", "{tmp}/d"), 2, "bad --chaos"),
        (("up", "--chaos", "nobody=0.1", "--data-dir", "{tmp}/d"), 2, "bad --chaos"),
        (("redrive", "--cancel", "--data-dir", "{tmp}/d"), 2, "nothing to cancel"),
        (("redrive", "--max-per-second", "10", "--data-dir", "{tmp}/d"), 2, "caps an AWS"),
        (("up", "--host", "999.1.1.1", "--port", "0", "--data-dir", "{tmp}/h"), 2, "--host must"),
        (("up", "--host", "192.0.2.1", "--port", "0", "--data-dir", "{tmp}/h"), 2, "--host must"),
        (("queue", "stats", "--data-dir", "{tmp}/old"), 1, "earlier votectl"),
        (("up", "--port", "99999", "--data-dir", "{tmp}/p"), 2, "'--port'"),
        # a data dir that cannot be one: a file, or under one
        (("up", "--port", "0", "--data-dir", "{tmp}/f"), 2, "/f as the data dir: it is a file"),
        (("up", "--detach", "--port", "0", "--data-dir", "{tmp}/f"), 2, "it is a file"),
        (("up", "--port", "0", "--auth", "jwt", "--data-dir", "{tmp}/f/d"), 2, "/f/d as the data"),
        (("bundle", "--out", "{tmp}/f"), 2, "/f: it is a file"),
        # the root's flags after the command: the hint is the line as it should be
        (("status", "--debug", "--data-dir", "{tmp}/d"), 2, "`votectl --debug status --data-dir"),
        # a usage hint names the command's own --help, not `votectl COMMAND --help`
        (("logs", "--since", "x", "--data-dir", "{tmp}/d"), 2, "see `votectl logs --help`"),
        (("--no-color", "loadtest", "-u", "0"), 2, "see `votectl loadtest --help`"),
    ],
)
def test_errors_are_one_line_with_a_hint(
    tmp_path: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "votes-table.db").touch()
    (tmp_path / "f").touch()
    (tmp_path / "old").mkdir()  # a data dir written before queues became inbox + state files
    (tmp_path / "old" / "votes-table.db").touch()
    connect(tmp_path / "old" / "votes-queue.db", "CREATE TABLE bodies (id INTEGER);").close()
    result = votectl(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_stage_named_by_flags_alone_is_an_aws_stage(tmp_path: Path) -> None:
    from tests.conftest import FAKE_AWS_ENV

    flags = ("--stage", "nowhere", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9")
    result = votectl("queue", "stats", *flags, env=FAKE_AWS_ENV)
    assert result.returncode == 1, result.stderr  # it tried that endpoint: no "unknown stage"
    assert "cannot reach" in result.stderr and "hint:" in result.stderr


def test_a_broken_config_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "votectl.toml").write_text("[stages.prod\nregion = 1")
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "votectl", "queue", "stats", "--stage", "prod"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "votectl.toml" in result.stderr and "Traceback" not in result.stderr


def test_up_on_a_data_dir_with_an_earlier_state_file_stops_with_a_hint(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    connect(data / "votes-queue-state.db", "CREATE TABLE messages (id INTEGER);").close()
    result = votectl("up", "--port", "0", "--data-dir", str(data))
    assert result.returncode == 1
    assert "earlier votectl" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


# --- usage errors are click's, exit 2 -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("nosuchcmd",), "No such command 'nosuchcmd'"),
        (("results",), "Missing argument 'TITLE_ID'"),
        (("up", "--port", "abc"), "Invalid value for '--port'"),
        (("redrive", "--max-per-second", "0"), "Invalid value for '--max-per-second'"),
        (("queue", "stats", "--no-such-flag"), "No such option: --no-such-flag"),
    ],
)
def test_usage_errors_exit_2_with_clicks_message(args: tuple[str, ...], words: str) -> None:
    result = votectl(*args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1 and "hint: usage: votectl" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [(), ("queue",), ("table",)])
def test_no_command_prints_the_help_and_exits_0(args: tuple[str, ...]) -> None:
    result = votectl(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage: votectl" in result.stdout and "Commands" in result.stdout
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("args", [("-h",), ("up", "-h"), ("queue", "stats", "-h")])
def test_dash_h_is_help(args: tuple[str, ...]) -> None:
    result = votectl(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage: votectl" in result.stdout and "--help" in result.stdout


@pytest.mark.parametrize("args", [("--help",), ("up", "--help"), ("loadtest", "--help")])
def test_help_shows_no_type_placeholders_for_flags_or_lists(args: tuple[str, ...]) -> None:
    result = votectl(*args, env={"COLUMNS": "200"})
    assert result.returncode == 0
    assert "<bool>" not in result.stdout and "<list[" not in result.stdout
    assert "--help" in result.stdout


def test_repeatable_options_name_one_value() -> None:
    up = votectl("up", "--help", env={"COLUMNS": "200"}).stdout
    assert "STAGE=FRACTION" in up
    assert "CLASS" in votectl("loadtest", "--help", env={"COLUMNS": "200"}).stdout


# --- completion and colour --------------------------------------------------------------------


def test_help_offers_shell_completion() -> None:
    assert "--install-completion" in votectl("--help", env={"COLUMNS": "200"}).stdout


def test_install_completion_writes_the_bash_script(tmp_path: Path) -> None:
    # typer's own switch: take the shell named here, not one detected from the process tree
    # (which pytest run from a non-shell parent does not have)
    env = {"HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = votectl("--install-completion", "bash", env=env)
    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "votectl.sh"
    assert "_VOTECTL_COMPLETE" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def test_completion_completes_commands() -> None:
    result = votectl(
        env={"_VOTECTL_COMPLETE": "complete_bash", "COMP_WORDS": "votectl qu", "COMP_CWORD": "1"}
    )
    assert result.returncode == 0
    assert result.stdout.split() == ["queue"]


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _colours(text: str) -> set[int]:
    """The foreground/background colour codes among the SGR sequences of ``text``."""
    codes = {int(c) for seq in _SGR.findall(text) for c in seq.split(";") if c}
    return {c for c in codes if 30 <= c <= 49 or 90 <= c <= 107}


@pytest.mark.parametrize(
    ("flags", "env", "coloured"),
    [
        ((), {}, True),
        ((), {"NO_COLOR": "1"}, False),
        (("--no-color",), {}, False),
    ],
)
def test_no_color_flag_and_environment(
    tmp_path: Path, flags: tuple[str, ...], env: dict[str, str], coloured: bool
) -> None:
    env = {"FORCE_COLOR": "1", **env}
    error = votectl(*flags, "queue", "stats", "--data-dir", str(tmp_path / "none"), env=env)
    assert error.returncode == 1 and "no local pipeline data" in error.stderr
    assert bool(_colours(error.stderr)) is coloured
    helped = votectl(*flags, "up", "--help", env=env)
    assert bool(_colours(helped.stdout)) is coloured


def test_a_taken_port_gets_a_port_hint(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = votectl("up", "--port", port, "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert "hint: pick another --port" in result.stderr and "--host" not in result.stderr


def test_results_for_an_unknown_title_exit_1_and_say_so(tmp_path: Path) -> None:
    SqliteVoteTable(tmp_path / "votes-table.db").close()
    result = votectl("results", "no-such-title", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no votes found for title 'no-such-title'" in result.stderr
    assert result.stderr.count("error:") == 1 and result.stdout == ""
    # results read right after a vote is sent: the hint says where a vote in transit is
    assert "may still be in a queue (`votectl queue stats`)" in result.stderr
    as_json = votectl("results", "no-such-title", "--data-dir", str(tmp_path), "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {"title_id": "no-such-title", "aspects": {}}
