"""The votectl locustfile: four user classes, one opt-in load shape, and the votes/s hooks.

Users (pick by class name or tag): SingleVoter (tag ``single``), BatchVoter (``batch``),
Revoter (``revote``), BadClient (``bad``); the three voters also carry the tag ``votes``.

Custom arguments (also in the web UI)::

    --shape none|steady|step|spike   none (default): plain -u/-r/-t; otherwise the shape, scaled
                                     by -u (peak users), -r and -t (default 60 s)
    --titles N --zipf-s S            catalogue size and Zipf exponent of title popularity
    --batch-size N                   votes per BatchVoter request (1-500)
    --run-id ID                      user id namespace; random by default, shared with workers
    --summary-file PATH              write the end-of-run summary as JSON: votes, distinct
                                     votes, requests, p50/p99 and errors, all final (Locust's
                                     --csv files are rewritten once a second, not at shutdown)
    --token-file FILE | --jwt-secret-file FILE
                                     bearer tokens for an endpoint with auth jwt (see _auth.py)

Votes accepted are counted from each 202 through the ``request`` event (a batch counts its
votes); workers send their counts to the master with every stats report. Locust loads this
file by path with its directory on ``sys.path``, hence the plain ``_helpers`` imports.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import gevent
from _auth import Identity, Tokens, add_arguments, token_cases
from _shapes import SHAPES, Stage, plan, tick
from _tally import Tally, Totals
from _traffic import Vote, VoteSource, batch_json, id_prefix
from locust import FastHttpUser, LoadTestShape, constant, events, tag, task
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import CONSOLE_STATS_INTERVAL_SEC, StatsError

log = logging.getLogger("votectl.loadtests")

MAX_BATCH = 500
DEFAULT_SHAPE_SECONDS = 60.0
_CATCH_RESPONSE = re.compile(r"^CatchResponseError\(['\"](.*)['\"]\)$")
SUMMARY_KEY = "votectl"  # our key in each worker's stats report
_JSON = {"content-type": "application/json"}


# --- custom arguments -------------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("votectl", "vote traffic (loadtests/locustfile.py)")
    group.add_argument("--shape", choices=SHAPES, default="none", help="load shape (default none)")
    group.add_argument("--titles", type=int, default=10_000, help="titles in the catalogue")
    group.add_argument("--zipf-s", type=float, default=1.1, help="Zipf exponent of popularity")
    group.add_argument("--batch-size", type=int, default=100, help="votes per BatchVoter request")
    group.add_argument("--run-id", default="", help="user id namespace (default: random)")
    group.add_argument("--summary-file", default="", help="write the run summary JSON here")
    add_arguments(group)


# --- per-process state ------------------------------------------------------------------------


class _Run:
    """What this process knows about the run: its traffic source, its tally, the totals."""

    def __init__(self) -> None:
        self.env: Environment | None = None
        self.tally = Tally()
        self.totals = Totals(self.tally)
        self._source: VoteSource | None = None
        self.started = self.stopped = 0.0
        self.printer: gevent.Greenlet | None = None

    @property
    def options(self) -> Any:
        assert self.env is not None and self.env.parsed_options is not None
        return self.env.parsed_options

    @property
    def source(self) -> VoteSource:
        # built on first use: on a worker the run id and index arrive with the first spawn
        if self._source is None:
            assert self.env is not None and self.env.runner is not None
            index = getattr(self.env.runner, "worker_index", 0)
            prefix = id_prefix(self.options.run_id, max(index, 0), os.getpid())
            self._source = VoteSource(prefix, self.options.titles, self.options.zipf_s)
        return self._source

    def duration(self) -> float:
        end = self.stopped if self.stopped >= self.started else time.monotonic()
        return max(end - self.started, 1e-9) if self.started else 0.0

    def summary(self) -> dict[str, Any]:
        assert self.env is not None and self.env.runner is not None
        counts, seconds = self.totals.counts(), self.duration()
        total = self.env.runner.stats.total

        def rate(n: int) -> float:
            return round(n / seconds, 1) if seconds else 0.0

        return {
            "run_id": self.options.run_id,
            "host": self.env.host,
            "duration_s": round(seconds, 3),
            "requests": total.num_requests,
            "failures": total.num_failures,
            "requests_per_s": rate(total.num_requests),
            "p50_ms": total.get_response_time_percentile(0.5) if total.num_requests else 0,
            "p99_ms": total.get_response_time_percentile(0.99) if total.num_requests else 0,
            "errors": [
                {
                    "method": e.method,
                    "name": e.name,
                    "error": _error_text(e.error),
                    "occurrences": e.occurrences,
                }
                for e in sorted(self.env.runner.stats.errors.values(), key=_by_occurrences)
            ],
            "accepted_requests": counts.requests,
            "votes_accepted": counts.votes,
            "votes_per_s": rate(counts.votes),
            "distinct_votes": counts.distinct,
        }


def _by_occurrences(error: StatsError) -> int:
    return -error.occurrences


def _error_text(error: Any) -> str:
    # our own failures (BadClient's "expected 413, got 500") read better without the class name;
    # a worker's errors reach the master as text, hence the pattern rather than isinstance
    text = StatsError.parse_error(error)
    match = _CATCH_RESPONSE.match(text)
    return match.group(1) if match else text


run = _Run()
tokens = Tokens()  # this process's bearer tokens, if the endpoint wants them


# --- users ------------------------------------------------------------------------------------


class _Voter(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    identity: Identity | None = None

    def on_start(self) -> None:
        self.identity = tokens.take(run.source.next_user())

    def send(self, votes: list[Vote], body: str, name: str) -> None:
        headers = _JSON
        if self.identity is not None:  # every vote is the token's sub
            votes, body = self.identity.own(votes, body)
            headers = self.identity.headers
        # the identities ride in the request context; _on_request counts them on a 202
        self.client.post(
            "/votes",
            data=body,
            headers=headers,
            name=name,
            context={"votes": [v.identity for v in votes]},
        )


class SingleVoter(_Voter):
    """One distinct vote per request, as fast as the endpoint answers."""

    weight = 10

    @tag("single", "votes")
    @task
    def vote(self) -> None:
        vote = run.source.vote()
        self.send([vote], vote.json(), "/votes")


class BatchVoter(_Voter):
    """``--batch-size`` votes per request (``{"votes": [...]}``)."""

    weight = 2

    @tag("batch", "votes")
    @task
    def vote_batch(self) -> None:
        source = run.source
        votes = [source.vote() for _ in range(run.options.batch_size)]
        self.send(votes, batch_json(votes), "/votes (batch)")


class Revoter(_Voter):
    """People changing their minds, and clients retrying: the table must keep one vote each."""

    weight = 2

    @tag("revote", "votes")
    @task(3)
    def change_mind(self) -> None:
        now = datetime.now(UTC)
        first = run.source.vote(voted_at=now - timedelta(seconds=1))
        self.send([first], first.json(), "/votes (revote)")
        second = run.source.revote(first, now)
        self.send([second], second.json(), "/votes (revote)")

    @tag("revote", "votes")
    @task(1)
    def retry(self) -> None:
        vote = run.source.vote(voted_at=datetime.now(UTC))
        body = vote.json()
        self.send([vote], body, "/votes (duplicate)")
        self.send([vote], body, "/votes (duplicate)")


_GOOD = '{"user_id":"u","title_id":"t","aspect":"story","score":%s%s}'
_OVERSIZED = '{"votes":[' + ",".join([_GOOD % (3, "")] * 5000) + "]}"  # ~310 KB > 256 KiB
# kind -> (method, path, body, the status the contract promises)
BAD_REQUESTS: dict[str, tuple[str, str, str | None, int]] = {
    "bad-json": ("POST", "/votes", '{"user_id": "u", "title_id": ', 400),
    "unknown-field": ("POST", "/votes", _GOOD % (3, ',"colour":"red"'), 400),
    "score-string": ("POST", "/votes", _GOOD % ('"5"', ""), 400),
    "score-float": ("POST", "/votes", _GOOD % ("4.5", ""), 400),
    "score-bool": ("POST", "/votes", _GOOD % ("true", ""), 400),
    "score-range": ("POST", "/votes", _GOOD % (9, ""), 400),
    "empty-batch": ("POST", "/votes", '{"votes":[]}', 400),
    "oversized": ("POST", "/votes", _OVERSIZED, 413),
    "wrong-method": ("GET", "/votes", None, 405),
    "wrong-path": ("POST", "/ballots", _GOOD % (3, ""), 404),
}


class BadClient(FastHttpUser):
    """Malformed requests: the promised 4xx is a success, anything else (a 2xx, a 500) a failure."""

    weight = 1
    wait_time = constant(0)
    cases: dict[str, tuple[str, str, str | None, int, dict[str, str]]] = {
        kind: (*request, _JSON) for kind, request in BAD_REQUESTS.items()
    }
    _kinds = sorted(cases)

    def on_start(self) -> None:
        identity = tokens.take(run.source.next_user())
        if identity is not None:  # a good token on the malformed requests, plus bad tokens
            self.cases = token_cases(BAD_REQUESTS, identity, tokens)
            self._kinds = sorted(self.cases)

    @tag("bad")
    @task
    def malformed(self) -> None:
        kind = random.choice(self._kinds)
        method, path, body, expected, headers = self.cases[kind]
        with self.client.request(
            method, path, data=body, headers=headers, name=f"bad: {kind}", catch_response=True
        ) as response:
            if response.status_code == expected:
                response.success()
            else:
                response.failure(f"expected {expected}, got {response.status_code}")


# --- the opt-in shape -------------------------------------------------------------------------


class VoteShape(LoadTestShape):
    """Follows the plan chosen with ``--shape``; removed from the run when the shape is none."""

    use_common_options = True  # it reads -u, -r and -t
    stages: list[Stage] = []

    def tick(self) -> tuple[int, float] | None:
        return tick(self.stages, self.get_run_time())


def _configure_shape(env: Environment) -> None:
    options = env.parsed_options
    if options.shape == "none":
        if isinstance(env.shape_class, VoteShape):
            env.shape_class = None  # Locust picks up any shape it finds; plain -u/-r/-t wins here
        return
    if isinstance(env.shape_class, VoteShape):
        users = options.num_users or 10
        duration = float(options.run_time or DEFAULT_SHAPE_SECONDS)
        env.shape_class.stages = plan(options.shape, users, options.spawn_rate or users, duration)


# --- tags -----------------------------------------------------------------------------------


def _runs_a_task(user_class: type, tags: set[str], exclude: set[str]) -> bool:
    """Whether ``--tags``/``--exclude-tags`` leave ``user_class`` a task (TaskSets count as one)."""
    for task_ in user_class.tasks:  # type: ignore[attr-defined]
        marks = set(getattr(task_, "locust_tag_set", ()))
        if isinstance(task_, type) or ((not tags or marks & tags) and not marks & exclude):
            return True
    return False


def _drop_users_without_tasks(env: Environment) -> None:
    """``--tags batch`` leaves SingleVoter no task, and Locust would spawn it anyway (and fail
    every time it picks a task); keep only the users the tags leave something to do."""
    options = env.parsed_options
    tags, exclude = set(options.tags or ()), set(options.exclude_tags or ())
    if not tags and not exclude:
        return
    keep = [u for u in env.user_classes if _runs_a_task(u, tags, exclude)]
    if not keep:
        tagged = ", ".join(sorted(tags))
        _usage_error(f"no user has a task tagged {tagged} (tags: see docs/load-testing.md)")
    env.user_classes[:] = keep


# --- event hooks ------------------------------------------------------------------------------


def _usage_error(message: str) -> None:
    log.error(message)
    sys.exit(2)


@events.init.add_listener
def _on_init(environment: Environment, runner: Any, web_ui: Any = None, **_: Any) -> None:
    # Locust arms `-t` with gevent.spawn_later, which counts from the event loop's cached clock:
    # on a busy machine the start-up since the loop last ran made a `-t 1s` run stop after a
    # few ms, having sent nothing (6 of 6 runs beside three busy loops; 0 of 5 with this line).
    gevent.get_hub().loop.update_now()
    run.env = environment
    options = environment.parsed_options
    if options is None:  # a library user without our arguments
        return
    if not 1 <= options.batch_size <= MAX_BATCH:
        _usage_error(f"--batch-size must be 1-{MAX_BATCH}, got {options.batch_size}")
    if options.titles < 1 or options.zipf_s < 0:
        _usage_error("--titles must be >= 1 and --zipf-s >= 0")
    token_error = tokens.configure(options)
    if token_error:
        _usage_error(token_error)
    if isinstance(runner, WorkerRunner):
        return  # run id and shape come from the master
    options.run_id = options.run_id or uuid.uuid4().hex[:8]
    _drop_users_without_tasks(environment)
    _configure_shape(environment)
    if web_ui is not None:
        web_ui.app.add_url_rule("/votes", "votectl_votes", lambda: run.summary())


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    run.tally.reset()
    run.totals.reset()
    run.started, run.stopped = time.monotonic(), 0.0
    if not isinstance(environment.runner, WorkerRunner):
        run.printer = gevent.spawn(_print_votes_per_second)


@events.test_stop.add_listener
def _on_test_stop(**_: Any) -> None:
    run.stopped = time.monotonic()
    if run.printer is not None:
        run.printer.kill(block=False)


@events.request.add_listener
def _on_request(context: dict[str, Any], response: Any, exception: Any, **_: Any) -> None:
    identities = context.get("votes")
    if identities is not None and exception is None and response.status_code == 202:
        run.tally.accept(identities)


@events.report_to_master.add_listener
def _on_report_to_master(data: dict[str, Any], **_: Any) -> None:
    data[SUMMARY_KEY] = run.tally.counts().to_json()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if SUMMARY_KEY in data:
        run.totals.report(client_id, data[SUMMARY_KEY])


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    if run.env is None or isinstance(run.env.runner, WorkerRunner) or not run.started:
        return
    summary = run.summary()
    log.info(
        "votes accepted: %(votes_accepted)d (%(votes_per_s).1f votes/s), distinct: "
        "%(distinct_votes)d, requests: %(requests)d (%(requests_per_s).1f req/s), "
        "failures: %(failures)d",
        summary,
    )
    if run.options.summary_file:
        with open(run.options.summary_file, "w") as f:
            json.dump(summary, f, indent=2)


def _print_votes_per_second() -> None:
    """Votes/s beside Locust's requests/s, every console stats interval, while the test runs."""
    last_votes, last_at = 0, time.monotonic()
    while True:
        gevent.sleep(CONSOLE_STATS_INTERVAL_SEC)
        counts, now = run.totals.counts(), time.monotonic()
        log.info(
            "votes/s %.0f (mean %.0f), votes accepted %d, distinct %d",
            (counts.votes - last_votes) / (now - last_at),
            counts.votes / run.duration(),
            counts.votes,
            counts.distinct,
        )
        last_votes, last_at = counts.votes, now
