"""`votectl loadtest` as a library: Locust headless against a stage, then drain-and-verify.

``run`` owns the sequence: find or start the endpoint, count the table, run the ``loadtests``
locustfile in a Locust subprocess (CSV, HTML and a summary JSON into the report dir), read the
summary, wait for the queues to drain, count again. lost = distinct votes accepted - table growth.
Locust's processes import nothing from votectl; they talk to it through files.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from votectl.config import Stage
from votectl.errors import LoadtestFailed, NotRunning, PipelineFailed, UsageError, VotectlError
from votectl.operations import Operations, drain
from votectl.report import recording
from votectl.targets import open_target

__all__ = [
    "ErrorKind",
    "LoadSettings",
    "LoadtestResult",
    "RequestStats",
    "SHAPES",
    "USER_CLASSES",
    "Verification",
    "endpoint_url_for",
    "loadtests_dir",
    "locust_command",
    "parse_duration",
    "read_summary",
    "run",
]

SHAPES = ("none", "steady", "step", "spike")
USER_CLASSES = ("SingleVoter", "BatchVoter", "Revoter", "BadClient")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$")

Output = Callable[[str], None]  # one line of Locust's output, or of our progress


@dataclass(frozen=True)
class LoadSettings:
    users: int = 50
    spawn_rate: float | None = None  # default: all users at once
    duration: str = "30s"
    shape: str = "none"
    user_classes: tuple[str, ...] = ("SingleVoter",)
    batch_size: int | None = None
    report_dir: Path = Path("loadtest-report")
    html: Path | None = None  # default: <report_dir>/report.html
    verify: bool = True
    drain_timeout: float = 300.0
    token_file: Path | None = None  # bearer tokens, one per line
    jwt_secret_file: Path | None = None  # or: users mint HS256 tokens with this secret
    jwt_issuer: str | None = None  # claims of minted tokens (the loadtests' defaults if None)
    jwt_audience: str | None = None
    max_failure_ratio: float = 0.0  # failed requests / requests above this fail the run

    def __post_init__(self) -> None:
        if self.users < 1:
            raise UsageError(f"--users must be >= 1, got {self.users}")
        if self.spawn_rate is not None and self.spawn_rate <= 0:
            raise UsageError(f"--spawn-rate must be > 0, got {self.spawn_rate}")
        if self.shape not in SHAPES:
            raise UsageError(f"--shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        unknown = set(self.user_classes) - set(USER_CLASSES)
        if unknown or not self.user_classes:
            raise UsageError(
                f"--user-class must be among {', '.join(USER_CLASSES)}, got {', '.join(unknown)}"
            )
        if self.batch_size is not None and not 1 <= self.batch_size <= 500:
            raise UsageError(f"--batch-size must be 1-500, got {self.batch_size}")
        if not 0 <= self.max_failure_ratio <= 1:
            raise UsageError(f"--max-failure-ratio must be 0-1, got {self.max_failure_ratio:g}")
        parse_duration(self.duration)
        if self.token_file and self.jwt_secret_file:
            raise UsageError("give --token-file or --jwt-secret-file, not both")
        for path in (self.token_file, self.jwt_secret_file):
            if path is not None and not path.is_file():
                raise UsageError(f"no such file: {path}")

    @property
    def html_path(self) -> Path:
        return self.html or self.report_dir / "report.html"

    @property
    def csv_prefix(self) -> Path:
        return self.report_dir / "locust"

    @property
    def summary_path(self) -> Path:
        return self.report_dir / "summary.json"


def parse_duration(text: str) -> float:
    """Locust's run time syntax (``90``, ``30s``, ``2m``, ``1h30m``) in seconds."""
    text = text.strip()
    match = _DURATION.match(text)
    if not text or match is None:
        raise UsageError(f"--duration must look like 30s, 2m or 1h30m, got {text!r}")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = float(hours * 3600 + minutes * 60 + seconds)
    if total <= 0:
        raise UsageError(f"--duration must be more than 0 seconds, got {text!r}")
    return total


@dataclass(frozen=True)
class RequestStats:
    """Locust's Aggregated row: every request, whatever its kind."""

    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class ErrorKind:
    method: str
    name: str
    error: str
    occurrences: int


@dataclass(frozen=True)
class Verification:
    drained: bool
    drain_seconds: float
    count_before: int
    count_after: int
    dlq_messages: int

    @property
    def stored(self) -> int:
        return self.count_after - self.count_before


@dataclass(frozen=True)
class LoadtestResult:
    stage: str
    url: str
    duration_s: float
    requests: RequestStats
    votes_accepted: int
    distinct_votes: int
    errors: list[ErrorKind] = field(default_factory=list)
    verification: Verification | None = None
    report_dir: str = ""
    html: str = ""
    pipeline_html: str = ""  # votectl.report's page: the pipeline over the run and the drain

    @property
    def votes_per_s(self) -> float:
        return self.votes_accepted / self.duration_s if self.duration_s else 0.0

    @property
    def lost(self) -> int | None:
        """Distinct accepted votes missing from the table; None without verification.

        The table may grow by more than the client counted: requests in flight when Locust
        stops its users are stored but never seen as 202, so the shortfall is floored at 0.
        """
        if self.verification is None:
            return None
        return max(0, self.distinct_votes - self.verification.stored)

    @property
    def failure_ratio(self) -> float:
        s = self.requests
        return s.failures / s.requests if s.requests else 0.0

    def failure(self, max_failure_ratio: float = 0.0) -> VotectlError | None:
        """Why this run failed, if it did: no requests, too many failed, or votes lost."""
        s = self.requests
        if not s.requests:
            return LoadtestFailed(f"no request reached {self.url}")
        if self.failure_ratio > max_failure_ratio:
            unauthorized = sum(
                e.occurrences for e in self.errors if "401" in e.error and "bad:" not in e.name
            )
            said = f"{s.failures:,} of {s.requests:,} requests failed"
            if unauthorized:
                return LoadtestFailed(
                    f"{said}, {unauthorized:,} of them with 401 Unauthorized: the endpoint wants"
                    " a bearer token (a stage with auth jwt) and the users sent none that passed",
                    hint="give the users tokens: --token-file FILE (`votectl token --count 50 >"
                    " FILE`) or --jwt-secret-file (the stage's HS256 secret)",
                )
            return LoadtestFailed(
                f"{said} ({self.failure_ratio:.1%}; --max-failure-ratio {max_failure_ratio:g})",
                hint="see 'errors by kind' and the Locust report; --max-failure-ratio allows some",
            )
        if self.lost:
            return PipelineFailed(
                f"{self.lost} of {self.distinct_votes} distinct accepted votes were not stored",
                hint="inspect the DLQs with `votectl queue stats`",
            )
        return None

    def to_json(self) -> dict[str, Any]:
        v = self.verification
        return {
            "stage": self.stage,
            "url": self.url,
            "duration_s": round(self.duration_s, 3),
            "votes_accepted": self.votes_accepted,
            "votes_per_s": round(self.votes_per_s, 1),
            "distinct_votes": self.distinct_votes,
            "requests": asdict(self.requests),
            "errors": [asdict(e) for e in self.errors],
            "verification": None if v is None else {**asdict(v), "stored": v.stored},
            "lost": self.lost,
            "report_dir": self.report_dir,
            "html": self.html,
            "pipeline_html": self.pipeline_html,
        }


# --- where things are -------------------------------------------------------------------------


def loadtests_dir() -> Path:
    """The ``loadtests`` directory beside this package (a checkout), else an installed one."""
    path = Path(__file__).resolve().parents[1] / "loadtests"
    if (path / "locustfile.py").exists():
        return path
    spec = importlib.util.find_spec("loadtests")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    raise VotectlError(
        "the loadtests/ scenarios are not installed", hint="run from a votectl source checkout"
    )


def endpoint_url_for(stage: Stage) -> str:
    """The HTTP endpoint of a deployed AWS stage (imported lazily: the AWS target is optional)."""
    try:
        from votectl.aws.ops import AwsOperations
    except ImportError as exc:
        raise VotectlError(
            f"stage {stage.name!r}: the AWS target is not available ({exc})",
            hint="load-test the local target with --stage local",
        ) from None
    url = AwsOperations(stage).stack.endpoint_url()  # StackNotFound: "deploy the stage first"
    if not url and stage.endpoint_url:
        raise VotectlError(
            f"stage {stage.name!r} is deployed on {stage.endpoint_url}, which made no HTTP"
            " endpoint for it (moto creates no API Gateway HTTP API from CloudFormation)",
            hint="load-test the local target (`votectl loadtest`), or a stage deployed on AWS",
        )
    if not url:
        raise VotectlError(
            f"stage {stage.name!r} has no HTTP endpoint",
            hint=f"deploy it with `votectl deploy --stage {stage.name}`",
        )
    return url.rstrip("/")


@contextmanager
def _target(stage: Stage, output: Output) -> Iterator[tuple[str, Operations]]:
    """The stage's URL and operations; for stage local a `votectl up` is started if none runs."""
    if not stage.is_local:
        yield endpoint_url_for(stage), open_target(stage)
        return
    from votectl.local.child import running_pipeline
    from votectl.local.layout import Layout

    layout = Layout.of(stage.data_dir)
    url = layout.running_url()
    if url is not None:
        output(f"using the running `votectl up` at {url}")
        yield url, open_target(stage)
        return
    dead = layout.up_info()
    if dead is not None:  # up.json without a lock holder: that `votectl up` died
        raise NotRunning(
            f"the `votectl up` of {stage.data_dir} (pid {dead.get('pid')}) is not running:"
            f" it died without removing {layout.up_file}",
            hint=f"start it again with `votectl up`, or delete {layout.up_file} to let"
            " loadtest start its own",
        )
    output(f"starting `votectl up` on {stage.data_dir} for this run")
    with running_pipeline(Path(stage.data_dir)) as url:
        yield url, open_target(stage)


# --- Locust, as a subprocess ------------------------------------------------------------------


def locust_command(url: str, settings: LoadSettings) -> list[str]:
    options = {
        "-f": str(loadtests_dir()),
        "--host": url,
        "-u": str(settings.users),
        "-r": f"{settings.spawn_rate or settings.users:g}",
        "-t": f"{parse_duration(settings.duration):g}s",
        "--stop-timeout": "5",
        "--csv": str(settings.csv_prefix),
        "--html": str(settings.html_path),
        "--summary-file": str(settings.summary_path),
        "--shape": settings.shape,
        "--exit-code-on-error": "0",  # failures are reported in the result, not a crash
    }
    if settings.batch_size is not None:
        options["--batch-size"] = str(settings.batch_size)
    tokens = {
        "--token-file": settings.token_file,
        "--jwt-secret-file": settings.jwt_secret_file,
        "--jwt-issuer": settings.jwt_issuer if settings.jwt_secret_file else None,
        "--jwt-audience": settings.jwt_audience if settings.jwt_secret_file else None,
    }
    options |= {flag: str(value) for flag, value in tokens.items() if value is not None}
    flags = [part for pair in options.items() for part in pair]
    return [
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "--only-summary",
        *flags,
        *settings.user_classes,
    ]


def _run_locust(cmd: list[str], output: Output) -> None:
    tail: deque[str] = deque(maxlen=15)
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                tail.append(line.rstrip())
                output(line.rstrip())
        except BaseException:  # Ctrl-C (or any failure here): Locust must not run on
            _stop_locust(proc)
            raise
    if proc.returncode != 0:
        last = next((t for t in reversed(tail) if t.strip()), "")
        raise LoadtestFailed(
            f"locust exited with code {proc.returncode}: {last}",
            hint=f"run it by hand to see why: {' '.join(cmd)}",
        )


LOCUST_STOP_SECONDS = 10.0  # its --stop-timeout (5 s) for the users, then its shutdown


def _stop_locust(proc: subprocess.Popen[str]) -> None:
    """Stop Locust and wait for it: SIGTERM (its graceful quit), SIGKILL if it lingers or a
    second Ctrl-C comes. A terminal's Ctrl-C reaches Locust as well, but headless Locust goes
    on after SIGINT until its -t ends, hammering the endpoint with no one reading."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(LOCUST_STOP_SECONDS)
    except BaseException:  # it lingers, or the user pressed Ctrl-C again
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def read_summary(path: Path) -> tuple[RequestStats, list[ErrorKind], dict[str, Any]]:
    """The locustfile's end-of-run summary: final request stats, errors by kind, vote counts.

    Not Locust's CSV: 2.47 rewrites ``*_stats.csv`` once a second and not at shutdown, so on a
    short run the CSV misses up to a second of requests; the summary is written at quit.
    """
    try:
        data = dict(json.loads(path.read_text()))
        stats = RequestStats(
            requests=int(data["requests"]),
            failures=int(data["failures"]),
            requests_per_s=float(data["requests_per_s"]),
            p50_ms=float(data["p50_ms"]),
            p99_ms=float(data["p99_ms"]),
        )
        errors = [ErrorKind(**e) for e in data["errors"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LoadtestFailed(f"locust wrote no readable summary at {path}: {exc}") from None
    return stats, errors, data


# --- drain and verify -------------------------------------------------------------------------


def _verify(ops: Operations, before: int, timeout: float, output: Output) -> Verification:
    output("waiting for the pipeline to drain")
    try:
        seconds, drained = drain(ops, timeout), True
    except VotectlError as exc:
        output(f"not drained: {exc}")
        seconds, drained = timeout, False
    dlq = sum(q.visible + q.in_flight + q.delayed for q in ops.queue_stats() if q.dlq)
    after = ops.table_count(exact=True).count
    return Verification(drained, round(seconds, 3), before, after, dlq)


def run(
    stage: Stage,
    settings: LoadSettings,
    output: Output = lambda _: None,
    locust_log: Output | None = None,
) -> LoadtestResult:
    """Load-test ``stage`` as ``settings`` say. ``output`` receives progress, and Locust's
    log unless ``locust_log`` takes it."""
    settings.report_dir.mkdir(parents=True, exist_ok=True)
    settings.summary_path.unlink(missing_ok=True)
    pipeline_html = settings.report_dir / "pipeline.html"
    history = settings.report_dir / f"{settings.csv_prefix.name}_stats_history.csv"
    with _target(stage, output) as (url, ops), recording(ops, pipeline_html, history) as rec:
        before = ops.table_count(exact=True).count if settings.verify else 0
        output(
            f"driving {settings.users} Locust users at {url} for"
            f" {parse_duration(settings.duration):g} s"
        )
        _run_locust(locust_command(url, settings), locust_log or output)
        rec.mark("load ends")
        stats, errors, summary = read_summary(settings.summary_path)
        verification = (
            _verify(ops, before, settings.drain_timeout, output) if settings.verify else None
        )
        rec.mark("drained")
    return LoadtestResult(
        stage=stage.name,
        url=url,
        duration_s=float(summary["duration_s"]),
        requests=stats,
        votes_accepted=int(summary["votes_accepted"]),
        distinct_votes=int(summary["distinct_votes"]),
        errors=errors,
        verification=verification,
        report_dir=str(settings.report_dir),
        html=str(settings.html_path),
        pipeline_html=str(pipeline_html),
    )
