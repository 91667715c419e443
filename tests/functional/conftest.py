"""Real components for the local target: AWS-shaped events, SQLite files, `votectl up`."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]  # the checkout: subprocesses run its votectl
EVENTS = Path(__file__).parent.parent / "fixtures" / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def http_event(
    method: str,
    path: str,
    body: bytes | str | None,
    b64: bool = False,
    template: str = "apigw-http-api-v2.json",
    content_type: str | None = "application/json",
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A real HTTP API v2.0 (or Function URL) event, adapted: method, path, body, the
    content-type header a JSON client sends (None: none), and the JWT authorizer's claims
    (none: a route without an authorizer, as with stage auth none)."""
    event = copy.deepcopy(load_event(template))
    event["requestContext"].pop("authorizer", None)
    if claims is not None:
        authorized = load_event("apigw-http-api-v2-jwt.json")["requestContext"]["authorizer"]
        event["requestContext"]["authorizer"] = {"jwt": {**authorized["jwt"], "claims": claims}}
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    raw = body.encode() if isinstance(body, str) else body
    if raw is None:
        event.pop("body", None)
    elif b64:
        event["body"] = base64.b64encode(raw).decode()
    else:
        event["body"] = raw.decode()
    event["isBase64Encoded"] = b64
    return event


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """A real SQS event source mapping batch, one record per body (ids made unique)."""
    template = load_event("sqs-receive.json")["Records"][1]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"msg-{i}"
        record["receiptHandle"] = f"rh-{i}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def poll(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Wait until ``predicate()`` is truthy and return it; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def votectl(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`votectl ARGS` as a subprocess of this interpreter (``env`` added to this one's)."""
    return subprocess.run(
        [sys.executable, "-m", "votectl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def query(data_dir: Path, *args: str) -> Any:
    """`votectl ARGS --data-dir DATA_DIR --json`, run by the same Typer app in this process: for
    the conditions tests poll many times a second (a process start per poll cost ~0.3 s of CPU,
    which the other workers waited for). ``votectl()`` is the CLI as a user runs it."""
    from typer.testing import CliRunner

    from votectl.cli.app import app

    done = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir), "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def short_loadtest(
    up: Up, tmp_path: Path, *extra: str, users: int = 2, seconds: int = 2
) -> subprocess.CompletedProcess[str]:
    """`votectl loadtest` against ``up`` for a few seconds, its report under ``tmp_path``."""
    return votectl(
        "loadtest",
        *("--data-dir", str(up.data_dir), "--report-dir", str(tmp_path / "report")),
        *("-u", str(users), "-t", f"{seconds}s", *extra),
    )


@dataclass
class Up:
    """A running `votectl up` subprocess (its own process group)."""

    proc: subprocess.Popen[str]
    data_dir: Path
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def json(self, *args: str) -> Any:
        result = votectl(*args, "--data-dir", str(self.data_dir), "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def query(self, *args: str) -> Any:
        return query(self.data_dir, *args)

    def backlog(self) -> int:
        queues = self.query("queue", "stats")["queues"]
        return sum(q["visible"] + q["in_flight"] + q["delayed"] for q in queues if not q["dlq"])

    def stored(self) -> int:
        return self.query("table", "count")["count"]

    def drained(self, timeout: float = 60.0) -> None:
        poll(lambda: self.backlog() == 0, timeout)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        os.killpg(self.proc.pid, sig)


@dataclass(frozen=True)
class Process:
    pid: int
    group: int  # its process group
    cmdline: str


def live_processes() -> list[Process]:
    """Every process on the machine that still runs (zombies left out), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            found.append(Process(int(entry.name), int(fields[2]), cmdline))
    return found


def start_up(data_dir: Path, *extra: str) -> Up:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "votectl",
            "up",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--quiet",
            # one gateway unless a test asks for more: the default depends on the cores
            *(() if "--workers" in extra else ("--workers", "1")),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    up_file = data_dir / "up.json"

    def ready() -> str | None:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return json.loads(up_file.read_text())["url"]
        except (OSError, ValueError, KeyError):
            return None

    return Up(proc, data_dir, poll(ready, timeout=30))


@contextlib.contextmanager
def started_up(data_dir: Path, *extra: str) -> Iterator[Up]:
    """``start_up``, and its whole process group killed after (a module's shared `up`)."""
    up = start_up(data_dir, *extra)
    try:
        yield up
    finally:
        if up.proc.poll() is None:
            up.kill_group(signal.SIGKILL)
            up.proc.wait(10)


@pytest.fixture
def up_factory(tmp_path: Path) -> Iterator[Callable[..., Up]]:
    with contextlib.ExitStack() as started:

        def factory(*extra: str, data_dir: Path | None = None) -> Up:
            return started.enter_context(started_up(data_dir or tmp_path / "local", *extra))

        yield factory


@pytest.fixture
def up(up_factory: Callable[..., Up]) -> Up:
    return up_factory("--visibility-timeout", "2")


# --- a moto server and the CLI against it -------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its accounts per process, and a worker runs many modules: each module starts
    # from an empty account, whatever the modules before it left deployed
    httpx.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def cli(moto_url: str, tmp_path: Path, aws_env: dict[str, str], wheel_cache: Path) -> Any:
    """votectl of this checkout, in a directory whose votectl.toml defines stage dev."""
    (tmp_path / "votectl.toml").write_text('[stages.dev]\nregion = "us-east-1"\n')
    base = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "NO_COLOR": "1"}
    # moto runs no function, so the canary a deploy runs would fail every deploy here;
    # tests/functional/test_canary.py turns it back on (VOTECTL_NO_CANARY="")
    base["VOTECTL_NO_CANARY"] = "1"
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "votectl", *args],
            cwd=tmp_path,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code, done.stderr
        assert "Traceback" not in done.stderr
        return done

    run.env = base  # type: ignore[attr-defined]
    return run
