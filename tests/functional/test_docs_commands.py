"""Every command line of README.md and docs/*.md, run as its block's comment says
(tests/docs_blocks.py; docs/contributing.md lists the modes).

- shell / up: the block's lines in bash, in a fresh directory (`loadtests` linked in), on free
  ports instead of 8000 and 5000, load tests 2 s, `watch` 2 frames; `up` first starts
  `votectl up` there, as in a second terminal. AWS credentials come only from what the block
  exports; bundling reads a prepared wheel cache, so nothing leaves the machine.
- locust: each line headless for 3 s against a real `votectl up`, no failures.
- output: each line at 118 columns prints what the page shows, with the exit code it states.
- flags: each flag of the line exists (`--help` of the benchmark script, or the command's
  options in the Typer app): these lines need a real AWS account or minutes of a quiet machine.
- ci / repo: the lines are .ci/run's; the lines run in the checkout.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_msgspec_wheel
from tests.docs_blocks import ROOT, Block, blocks
from tests.functional.conftest import Up, live_processes, started_up
from votectl.local.status import alive

BLOCKS = blocks()
SPREAD_ACROSS_WORKERS = True  # each test makes what it needs (tests/conftest.py)
BIN = Path(sys.executable).parent  # this environment's votectl, locust, moto_server, mkdocs


def by_mode(*modes: str) -> list[Any]:
    return [pytest.param(b, id=b.name) for b in BLOCKS if b.mode in modes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@functools.cache  # asked once a worker, not once a block
def _has_detach() -> bool:
    done = subprocess.run(
        [BIN / "votectl", "up", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)},
    )
    return "--detach" in done.stdout


# --- shell and up -------------------------------------------------------------------------


def adapt(line: str, ports: dict[str, int]) -> list[str]:
    """One command line of a page, made to run here (see the module docstring)."""
    line = re.sub(r"(?<=:)8000\b", str(ports["up"]), line)
    line = re.sub(r"(?<=:)5000\b", str(ports["moto"]), line)
    words = line.split()
    if line.startswith("moto_server"):
        line = line.replace("-p 5000", f"-p {ports['moto']}")
        wait = f"until curl -s -o /dev/null localhost:{ports['moto']}; do sleep 0.1; done"
        return [line, wait]
    if words[:2] == ["votectl", "up"] and words[-1] == "&":
        # as in a second terminal: its output to a file (a background job holding our pipes
        # would keep them open), and the next line once it answers
        health = f"until curl -sf localhost:{ports['up']}/health >/dev/null; do sleep 0.1; done"
        return [f"{line[:-1].rstrip()} --port {ports['up']} --quiet >>up.log 2>&1 &", health]
    if words[:2] == ["votectl", "up"]:
        return [f"{line} --port {ports['up']}"]
    if words[:2] == ["votectl", "watch"] and "--frames" not in words:
        return [f"{line} --frames 2"]
    if words[:2] == ["votectl", "results"]:
        # a person types it a moment later; here: once the votes have passed the queues
        probe = f"{line} >/dev/null 2>&1"
        return [f"for _ in $(seq 300); do {probe} && break; sleep 0.1; done", line]
    if words[:2] == ["votectl", "loadtest"] or words[:1] == ["locust"]:
        line = re.sub(r"(?<= -t )\S+", "2s", line)
        line = re.sub(r"(?<= -[ur] )(\d+)", lambda m: str(min(int(m.group(1)), 4)), line)
        return [line]
    if words[:1] == ["curl"]:
        return ['echo "---"', line, "echo"]
    return [line]


def script(block: Block, ports: dict[str, int]) -> str:
    out = ["set -euo pipefail"]
    if block.mode == "up":
        up = f"votectl up --port {ports['up']} --quiet {block.args}".strip()
        health = f"until curl -sf localhost:{ports['up']}/health >/dev/null; do sleep 0.1; done"
        out += [f"{up} >up.log 2>&1 &", health]
    for line in block.lines:
        out += adapt(line, ports)
    return "\n".join(out) + "\n"


def block_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VOTECTL_"))}
    cache = tmp_path.parent / f"{tmp_path.name}-wheels"
    from votectl.aws.bundle import PLATFORMS, PYTHON_VERSION

    for architecture, platform in PLATFORMS.items():
        folder = cache / f"cp{PYTHON_VERSION.replace('.', '')}-{platform}"
        fake_msgspec_wheel(folder, architecture)
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "VOTECTL_WHEEL_CACHE": str(cache),
    }


def _stop_detached(cwd: Path, env: dict[str, str]) -> None:
    """A `votectl up --detach` the block left running (it failed before `votectl down`)."""
    up_file = cwd / ".votectl" / "local" / "up.json"
    if not up_file.exists():
        return
    with contextlib.suppress(OSError, ValueError, KeyError):
        if not alive(int(json.loads(up_file.read_text())["pid"])):
            return  # what it names was stopped with the block's process group
    subprocess.run([BIN / "votectl", "down"], cwd=cwd, env=env, capture_output=True, timeout=60)
    with contextlib.suppress(OSError, ValueError):
        pid = int(json.loads(up_file.read_text())["pid"])
        os.killpg(pid, signal.SIGKILL)


def left_running(group: int) -> list[str]:
    """The command lines of the live processes still in process group ``group``."""
    return [p.cmdline for p in live_processes() if p.group == group]


def run_block(block: Block, cwd: Path, timeout: float = 300) -> tuple[int, str, str, list[str]]:
    """Run the block; its exit code, output, and what it left running in the background."""
    (cwd / "loadtests").symlink_to(ROOT / "loadtests")
    env = block_env(cwd)
    ports = {"up": free_port(), "moto": free_port()}
    proc = subprocess.Popen(
        ["bash", "-c", script(block, ports)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        # a process the block stopped may take a moment; an `up` block's own `votectl up` and
        # a failing block's leftovers are stopped below without waiting
        deadline = time.monotonic() + (10 if block.mode == "shell" and block.exit == 0 else 0)
        while (left := left_running(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        # what the block left in the background: `votectl up &`, a moto server. SIGTERM, not
        # SIGINT: bash without job control starts `&` commands with SIGINT ignored. An `up`
        # block's own `votectl up` (the second terminal, not what the block checks) is killed
        # outright, with its children: its graceful stop took ~2 s a block
        stop = signal.SIGKILL if block.mode == "up" else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, stop)
        # until no process of the group runs (a zombie does not: orphans wait for init to reap
        # them, ~1 s here)
        deadline = time.monotonic() + 15
        while left_running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _stop_detached(cwd, env)
    return proc.returncode, out, err, left


def replies(out: str) -> list[str]:
    """The bodies curl printed, in order."""
    return out.split("---\n")[1:]


def check_readme_tour(out: str, err: str, cwd: Path) -> None:
    assert '"accepted":1' in replies(out)[0]
    assert "story" in out  # the results table
    assert (cwd / ".votectl" / "local" / "votes-table.db").exists()  # the default data dir
    assert "/votes" in out.splitlines()[0]  # `votectl up --detach` prints its URL
    assert "votectl down: stopped" in err  # and `votectl down` stopped it


def check_auth(out: str, err: str, cwd: Path) -> None:
    answers = replies(out)
    assert '"accepted":1' in answers[0]  # the vote with a token
    assert "a bearer token is required" in answers[1]  # the one without
    assert len((cwd / "tokens.txt").read_text().split()) == 50
    assert "lost" in out
    assert (cwd / ".votectl" / "local" / "jwt-secret").stat().st_mode & 0o777 == 0o600


def check_moto(out: str, err: str, cwd: Path) -> None:
    assert "CREATE_COMPLETE" in out, out[-2000:]  # deployed, as `votectl status` says
    assert "votectl-emu-VotesTable" in out  # the table moto made
    assert "votectl-emu: deleted" in out  # and destroyed
    assert (cwd / "moto.log").exists()


def check_first_votes(out: str, err: str, cwd: Path) -> None:
    answers = replies(out)
    assert '"accepted":1' in answers[0] and '"accepted":2' in answers[1]
    assert '"field":"score"' in answers[2].replace(" ", "")  # the bad vote: 400, named
    assert "acting" in out and "story" in out  # the results of the two good requests


def check_canary_local(out: str, err: str, cwd: Path) -> None:
    assert '"ok": true' in out  # `votectl canary --json`
    assert "re-vote written by" in out  # the table run before it


def check_canary_jwt(out: str, err: str, cwd: Path) -> None:
    assert "user votectl-canary," in out  # the token's own subject, not a generated one


def check_canary_writer(out: str, err: str, cwd: Path) -> None:
    assert "the vote stopped at the writer" in err
    assert "ready-dlq 1 (+1)" in err


def check_up_down(out: str, err: str, cwd: Path) -> None:
    assert '"accepted":1' in replies(out)[0]
    assert err.count("nothing runs on") == 1  # the second `votectl down`
    assert not (cwd / ".votectl" / "local" / "up.json").exists()


def check_redrive(out: str, err: str, cwd: Path) -> None:
    assert "Traceback" not in err and "error" not in err


CHECKS = {
    "canary-local": check_canary_local,
    "canary-jwt": check_canary_jwt,
    "canary-writer": check_canary_writer,
    "up-down": check_up_down,
    "redrive": check_redrive,
    "readme-tour": check_readme_tour,
    "auth": check_auth,
    "readme-moto": check_moto,
    "first-votes": check_first_votes,
}


@pytest.mark.parametrize("block", by_mode("shell", "up"))
def test_the_block_runs(block: Block, tmp_path: Path) -> None:
    needs_detach = any(" --detach" in line or line == "votectl down" for line in block.lines)
    if needs_detach and not _has_detach():
        pytest.skip("needs `votectl up --detach` and `votectl down` (branch cli)")
    code, out, err, left = run_block(block, tmp_path)
    shown = f"{block.name}\n{script(block, {'up': 8000, 'moto': 5000})}\n{err[-3000:]}"
    assert code == block.exit, shown
    if block.mode == "shell" and block.exit == 0:  # nothing left running that the page started
        assert left == [], f"{block.name} leaves running, with no line to stop it: {left}"
    assert "Traceback" not in err, err[-3000:]
    if block.id in CHECKS:
        CHECKS[block.id](out, err, tmp_path)


def test_the_checked_blocks_exist() -> None:
    assert set(CHECKS) <= {b.id for b in BLOCKS}
    assert sum(1 for b in BLOCKS if b.mode in ("shell", "up")) >= 10


# --- repo -----------------------------------------------------------------------------------


@pytest.mark.parametrize("block", by_mode("repo"))
def test_the_block_runs_in_the_checkout(block: Block) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for line in block.lines:
        done = subprocess.run(
            ["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


# --- locust ---------------------------------------------------------------------------------


LOCUST_LINES = [
    pytest.param(line, id=f"{b.name}:{i}")
    for b in BLOCKS
    if b.mode == "locust"
    for i, line in enumerate(b.lines)
]


def locust_args(line: str, url: str, summary: Path) -> list[str]:
    """The page's Locust line, made to run headless for 3 s against ``url`` (8 s with
    ``--processes``: its worker processes start and connect first, which took over 3 s on a
    loaded host and left the run without a request)."""
    args = shlex.split(line)[1:]
    seconds = "8s" if "--processes" in args else "3s"
    options = {"--host": url, "-t": seconds, "--summary-file": str(summary)}
    for flag, value in options.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    if "--headless" not in args:
        args.append("--headless")  # the web UI line: the same run without the browser
    return [sys.executable, "-m", "locust", *args, "--only-summary"]


def test_the_docs_show_locust_lines() -> None:
    lines = [p.values[0] for p in LOCUST_LINES]
    assert len(lines) >= 5
    assert any("--tags batch" in line for line in lines)
    # Locust starts -r users a second (default 1): a large -u needs a -r that reaches it
    for line in lines:
        users = re.search(r"-u (\d+)", line)
        if users and int(users.group(1)) > 30 and "--shape" not in line:
            assert re.search(r"-r \d+", line), line


@pytest.fixture(scope="module")
def locust_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `votectl up` for every Locust line (they run on one worker, in order): each line
    checks only its own run's summary, so they need not start a pipeline each."""
    with started_up(tmp_path_factory.mktemp("locust") / "local", "--visibility-timeout", "2") as up:
        yield up


@pytest.mark.xdist_group("docs-locust-lines")
@pytest.mark.parametrize("line", LOCUST_LINES)
def test_every_locust_line_runs(line: str, locust_up: Up, tmp_path: Path) -> None:
    up = locust_up
    assert line.startswith("locust -f loadtests")
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        locust_args(line, up.url, summary), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "No tasks defined" not in result.stderr
    report = json.loads(summary.read_text())
    assert report["requests"] > 0 and report["failures"] == 0, report
    if "--tags batch" in line:  # only batches were sent: 500 votes each
        assert report["votes_accepted"] == 500 * report["accepted_requests"] > 0
    assert "Traceback" not in result.stderr


# --- output ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block", by_mode("output"))
def test_the_block_prints_what_it_shows(block: Block, tmp_path: Path) -> None:
    """Each command runs with its stated exit code (`# exit N`, else 0) and prints what the
    block shows: all of it (at the 118 columns the page was made with), or, where the block
    elides with `...`, the lines it shows."""
    for command in block.commands:
        words = command.text.split("  #")[0].split()
        assert words[0] == "votectl"
        code = re.search(r"#\s*exit (\d)", command.text)
        done = subprocess.run(
            [sys.executable, "-m", "votectl", *words[1:]],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "118"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in done.stderr
        assert done.returncode == (int(code.group(1)) if code else 0), done.stderr
        printed = [line.rstrip() for line in done.stdout.splitlines()]
        if "..." in command.shown:
            missing = [line for line in command.shown if line != "..." and line not in printed]
            assert not missing, missing
        else:
            assert printed == list(command.shown), "block is stale; now:\n" + "\n".join(printed)


# --- flags ----------------------------------------------------------------------------------


FLAG_LINES = [
    pytest.param(line, id=f"{b.name}:{i}")
    for b in BLOCKS
    if b.mode == "flags"
    for i, line in enumerate(b.lines)
]


def _command_options(words: list[str]) -> tuple[str, set[str]]:
    """The votectl (sub)command a line names, and every option string it takes."""
    import typer.main

    from votectl.cli.app import app

    command: Any = typer.main.get_command(app)
    path = ["votectl"]
    for word in words[1:]:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, path = sub, [*path, word]
    options = {o for p in command.params for o in [*p.opts, *p.secondary_opts]}
    return " ".join(path), options


@functools.cache
def script_help(script: str) -> str:
    done = subprocess.run(
        [sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("line", FLAG_LINES)
def test_each_flag_line_names_real_flags(line: str) -> None:
    words = shlex.split(line.split("  #")[0])
    flags = [w.split("=")[0] for w in words if w.startswith("-")]
    if words[0] == "python":
        script = words[1]
        assert script.startswith("benchmarks/") and (ROOT / script).is_file(), script
        for flag in flags:
            assert flag in script_help(script), f"{script} has no {flag}"
        return
    assert words[0] == "votectl", line
    name, options = _command_options(words)
    assert name != "votectl", f"no such command: {line}"
    unknown = [f for f in flags if f not in options]
    assert not unknown, f"{name} has no {unknown}"


def test_the_benchmark_figures_name_their_commands() -> None:
    """Every `python benchmarks/...` a page names (in prose and tables too) is flag-checked."""
    named = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        named |= set(
            re.findall(
                r"python (benchmarks/\w+\.py(?: --?[\w-]+(?: [\w.,/-]+)?)*)", page.read_text()
            )
        )
    assert len(named) >= 8
    for line in sorted(named):
        test_each_flag_line_names_real_flags(f"python {line}")


# --- ci -------------------------------------------------------------------------------------


def _steps(line: str) -> list[str]:
    return [step.strip() for step in line.split("&&")]


def _runs(ci_line: str, shown: str) -> bool:
    """``ci_line`` runs the steps of ``shown`` in order (it may run more between them)."""
    steps = iter(_steps(ci_line))
    return all(any(step == want for step in steps) for want in _steps(shown))


def test_the_ci_lines_are_what_ci_runs() -> None:
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    shown = [line for b in BLOCKS if b.mode == "ci" for line in b.lines]
    assert "pip install -e . && votectl demo" in shown
    assert 'pip install -e ".[dev]" && pytest' in shown
    for line in shown:
        assert any(_runs(c, line) for c in ci), f".ci/run does not run {line!r}"
    assert any(_runs(c, "mkdocs build --strict") for c in ci)  # the docs site builds strictly
