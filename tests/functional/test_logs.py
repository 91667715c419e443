"""`votectl logs` on both targets: a real `votectl up` keeping its children's output, and
CloudWatch Logs in moto (FilterLogEvents; moto has no StartLiveTail, so --follow polls)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.functional.conftest import Up, poll, votectl
from votectl.aws.logs import CloudWatchLogs
from votectl.local.logfiles import LOG_BACKUPS, LOG_BYTES, child_main
from votectl.logevents import LogQuery

VOTE = {"user_id": "u1", "title_id": "t1", "aspect": "story", "score": 4}


def handler_line(function: str, message: str, correlation: str, seconds_ago: float) -> str:
    """A line as the handlers write them (notes/SHARED_NAMES.md)."""
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "timestamp": stamp,
            "level": "INFO",
            "function": function,
            "message": message,
            "request_id": f"{function}-req",
            "correlation_id": correlation,
        }
    )


def logs_json(*args: str) -> list[dict[str, Any]]:
    done = votectl("logs", *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_up_keeps_each_childs_output_and_logs_reads_it(
    up_factory: Callable[..., Up],
) -> None:
    up = up_factory("--chaos", "processor=1", "--visibility-timeout", "60")
    with up.client() as client:
        assert client.post("/votes", json=VOTE).status_code == 202
    logs = up.data_dir / "logs"
    processor_log = logs / "processor.log"
    poll(lambda: processor_log.exists() and "injected failure" in processor_log.read_text(), 30)
    assert {p.name for p in logs.glob("*.log")} >= {"gateway-0.log", "processor.log", "writer.log"}
    # the handlers' JSON lines (branch `lambdas` writes them), one vote's path
    for child, function, ago in (
        ("gateway-0", "receiver", 3),
        ("processor", "processor", 2),
        ("writer", "writer", 1),
    ):
        with (logs / f"{child}.log").open("a") as f:
            f.write(handler_line(function, f"{function} did it", "corr-42", ago) + "\n")
            f.write(handler_line(function, "another vote", "corr-7", ago) + "\n")

    target = ("--data-dir", str(up.data_dir))
    plain = [e for e in logs_json(*target, "--function", "processor") if e["level"] is None]
    assert any("injected failure" in e["message"] for e in plain)
    assert all(e["function"] == "processor" for e in plain)

    path = logs_json(*target, "--filter", "corr-42")
    assert [e["function"] for e in path] == ["receiver", "processor", "writer"]
    assert [e["message"] for e in path] == [
        f"{f} did it" for f in ("receiver", "processor", "writer")
    ]
    assert {e["correlation_id"] for e in path} == {"corr-42"}
    assert logs_json(*target, "--filter", "corr-42", "--since", "1s") == []

    human = votectl("logs", *target, "--filter", "corr-42")
    assert human.returncode == 0 and "writer" in human.stdout and "writer did it" in human.stdout


def test_logs_follow_prints_new_lines_until_interrupted(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "votes-table.db").touch()  # a data dir a pipeline ran in
    log = tmp_path / "logs" / "writer.log"
    log.write_text(handler_line("writer", "old", "c0", 1) + "\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "votectl",
            "logs",
            "--data-dir",
            str(tmp_path),
            "-f",  # follow, as in docker, kubectl and `aws logs tail`
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even where this test runs as a background job (which
        # starts with SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["message"] == "old"
        with log.open("a") as f:
            f.write(handler_line("writer", "new", "c1", 0) + "\n")
        assert json.loads(proc.stdout.readline())["message"] == "new"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 130
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_default_level_shows_the_handlers_batch_lines(up: Up) -> None:
    with up.client() as client:
        for n in range(3):
            vote = {**VOTE, "user_id": f"u{n}"}
            assert client.post("/votes", json=vote).status_code == 202
    target = ("--data-dir", str(up.data_dir))

    def batches() -> set[str]:
        return {e["function"] for e in logs_json(*target) if e["level"] == "INFO"}

    assert poll(lambda: batches() >= {"processor", "writer"}, timeout=30)
    human = votectl("logs", *target)
    assert "processor" in human.stdout and "writer" in human.stdout


def test_lines_without_their_own_time_carry_the_time_they_were_written(tmp_path: Path) -> None:
    """A poller's warning or a traceback (not a handler's JSON line) is stamped as it is
    written: reading it later, after the file changed again, does not make it look new."""
    (tmp_path / "votes-table.db").touch()
    log = tmp_path / "logs" / "processor.log"
    saved = sys.stdout, sys.stderr
    try:
        child_main(str(log), lambda: print("processor: injected failure\nTraceback: two lines"))
    finally:
        sys.stdout, sys.stderr = saved
    written = datetime.now(UTC)
    with log.open("a") as f:  # a handler line, later; and the file's mtime an hour on
        f.write(handler_line("processor", "batch forwarded", "c1", 0) + "\n")
    later = written.timestamp() + 3600
    os.utime(log, (later, later))
    events = logs_json("--data-dir", str(tmp_path), "--since", "1d")
    plain = {e["message"]: e for e in events if e["level"] is None}
    assert set(plain) == {"processor: injected failure", "Traceback: two lines"}
    for event in plain.values():
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        assert abs((at - written).total_seconds()) < 60, event  # not the mtime, an hour on


def test_no_lines_says_so(tmp_path: Path) -> None:
    (tmp_path / "votes-table.db").touch()
    (tmp_path / "logs").mkdir()
    done = votectl("logs", "--data-dir", str(tmp_path))
    assert done.returncode == 0 and done.stdout == ""
    assert "no lines from receiver, processor, writer in the last 10m" in done.stderr
    assert "hint:" in done.stderr


def test_logs_help_says_what_json_prints() -> None:
    done = votectl("logs", "--help", env={"COLUMNS": "200"})
    assert "JSON Lines" in done.stdout and "one JSON document" not in done.stdout
    rows = done.stdout.splitlines()
    assert any("--follow" in row and " -f " in row for row in rows), done.stdout
    assert not any("--function" in row and " -f " in row for row in rows), done.stdout


def test_a_childs_log_rotates_and_stays_bounded(tmp_path: Path) -> None:
    """child_main's rotating stream: 5 files at most, each near LOG_BYTES."""
    path = tmp_path / "logs" / "writer.log"
    line = "x" * 1023
    count = (LOG_BYTES // 1024) * (LOG_BACKUPS + 2)

    def chatty() -> None:
        for _ in range(count):
            print(line)

    saved = sys.stdout, sys.stderr
    try:
        child_main(str(path), chatty)
    finally:
        sys.stdout, sys.stderr = saved
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["writer.log", *(f"writer.log.{n}" for n in range(1, LOG_BACKUPS + 1))]
    assert all(p.stat().st_size <= LOG_BYTES for p in path.parent.iterdir())


# --- AWS: CloudWatch Logs in moto ---------------------------------------------------------


def put(client: Any, group: str, lines: list[tuple[int, str]]) -> None:
    client.put_log_events(
        logGroupName=group,
        logStreamName="2026/11/27/[$LATEST]abc",
        logEvents=[{"timestamp": ts, "message": m} for ts, m in lines],
    )


@pytest.fixture
def cloudwatch(mocked_aws: None) -> tuple[Any, dict[str, str]]:
    client = boto3.client("logs", region_name="us-east-1")
    groups = {f: f"/aws/lambda/votectl-dev-{f}" for f in ("receiver", "processor", "writer")}
    for group in groups.values():
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName="2026/11/27/[$LATEST]abc")
    return client, groups


def test_cloudwatch_events_interleave_by_time_and_follow_polls(
    cloudwatch: tuple[Any, dict[str, str]],
) -> None:
    client, groups = cloudwatch
    now = int(datetime.now(UTC).timestamp() * 1000)
    put(client, groups["writer"], [(now - 1000, handler_line("writer", "w", "c9", 1))])
    put(
        client,
        groups["receiver"],
        [
            (now - 3000, handler_line("receiver", "r", "c9", 3)),
            (now - 2500, "START RequestId: abc Version: $LATEST"),
        ],
    )
    put(client, groups["processor"], [(now - 2000, handler_line("processor", "p", "c9", 2))])
    waits: list[float] = []
    reader = CloudWatchLogs(client, groups, sleep=waits.append, poll_seconds=0.25)

    events = list(reader.read(LogQuery()))
    assert [(e.function, e.message) for e in events] == [
        ("receiver", "r"),
        ("receiver", "START RequestId: abc Version: $LATEST"),
        ("processor", "p"),
        ("writer", "w"),
    ]
    assert [e.function for e in reader.read(LogQuery(("writer",)))] == ["writer"]
    assert [e.message for e in reader.read(LogQuery(filter_text="c9"))] == ["r", "p", "w"]

    # moto's StartLiveTail, as it is: one update with what is stored, then the stream ends
    follow = reader.read(LogQuery(), follow=True)
    assert [next(follow).message for _ in range(4)][-1] == "w"
    later = int(datetime.now(UTC).timestamp() * 1000) + 5
    put(client, groups["processor"], [(later, handler_line("processor", "new", "c10", 0))])
    assert next(follow).message == "new"
    assert waits and waits[0] == 0.25  # the session ended on its own: polled from then on
    even_later = later + 5
    put(client, groups["writer"], [(even_later, handler_line("writer", "newer", "c11", 0))])
    assert next(follow).message == "newer"  # each line once: nothing replayed


def test_cli_logs_against_a_moto_server(cli: Any, moto_url: str) -> None:
    target = ("--stage", "dev", "--endpoint-url", moto_url)
    cli("deploy", *target, "--yes", "--json")
    status = json.loads(cli("status", *target, "--json").stdout)
    names = {f["name"]: f["function_name"] for f in status["functions"]}
    client = boto3.client("logs", endpoint_url=moto_url, region_name="us-east-1")
    now = int(datetime.now(UTC).timestamp() * 1000)
    for n, function in enumerate(("receiver", "processor", "writer")):
        group = f"/aws/lambda/{names[function]}"
        if group not in {g["logGroupName"] for g in client.describe_log_groups()["logGroups"]}:
            client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName="s")
        client.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[
                {"timestamp": now - 3000 + n, "message": handler_line(function, function, "cX", 3)}
            ],
        )
    done = cli("logs", *target, "--filter", "cX", "--json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["function"] for e in lines] == ["receiver", "processor", "writer"]
    _follow_on_the_moto_server(cli, target, client, names)
    assert cli("logs", *target, "--since", "1x", code=2).stderr.count("error:") == 1
    # the live view reads the same stack: queue attributes, DescribeTable, CloudWatch
    frame = cli("watch", *target, "--frames", "1").stdout
    assert "votes-dlq" in frame and "table: 0 votes" in frame and "accepted" not in frame


def _follow_on_the_moto_server(
    cli: Any, target: tuple[str, ...], client: Any, names: dict[str, str]
) -> None:
    """`votectl logs -f` against the real moto server: its StartLiveTail (reached without the
    SDK's "stream-" host prefix) answers once and closes; new lines still come, each once."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "votectl", "logs", *target, "-f", "--filter", "cX", "--json"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert all(lines), proc.communicate(timeout=15)[1]
        first = [json.loads(line)["function"] for line in lines]
        assert first == ["receiver", "processor", "writer"]
        later = int(datetime.now(UTC).timestamp() * 1000) + 10
        client.put_log_events(
            logGroupName=f"/aws/lambda/{names['writer']}",
            logStreamName="s",
            logEvents=[{"timestamp": later, "message": handler_line("writer", "late", "cX", 0)}],
        )
        assert json.loads(proc.stdout.readline())["message"] == "late"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
        assert proc.returncode == 130, stderr
        assert "stream-" not in stderr and "cannot reach" not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_child_whose_log_cannot_be_opened_still_runs(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where the logs folder should be")
    ran: list[str] = []
    child_main(str(tmp_path / "logs" / "writer.log"), ran.append, "ran")
    assert ran == ["ran"]
