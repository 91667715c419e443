"""`votectl canary`: prove a deployed pipeline end to end with four marked votes, on any target.

One code path over the Operations both targets expose (their ``probe`` sends, reads, deletes).
The votes belong to a title no one else uses, ``votectl-canary-<run id>`` (and, without a
token, to a user of that name too), so reading, judging and deleting them touches no real vote:

- first: stored;  re-vote (same user, title, aspect; newer voted_at): must replace it;
- older (voted_at before the first), sent with a marker vote on another aspect in the same
  request: once the marker is stored the older vote has been written too, and must have lost;
- refused (score out of range): a 4xx with a JSON error, and never an item.

Then the DLQs must hold no more than before, and the canary deletes its items. A failure names
the hop where the vote stopped (``HOPS``), with queue depths and the log lines of the canary's
correlation ids.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from votectl.errors import UsageError, VotectlError
from votectl.logevents import LogQuery
from votectl.model import QueueStat
from votectl.operations import Operations
from votectl.probe import FRONT_DOOR, RECEIVER, Probe, Sent, Unreachable

__all__ = ["HOPS", "CanaryFailed", "CanaryResult", "VoteCheck", "run_canary", "token_subject"]

HOPS = (
    FRONT_DOOR,
    RECEIVER,
    "votes queue",
    "processor",
    "ready queue",
    "writer",
    "table",
    "DLQ",
)
_LOGS_OF = {  # whose log lines tell most about a hop
    FRONT_DOOR: ("receiver",),
    RECEIVER: ("receiver",),
    "votes queue": ("receiver",),
    "processor": ("processor",),
    "ready queue": ("processor",),
    "writer": ("writer",),
    "table": ("writer",),
    "DLQ": ("processor", "writer"),
}
_HINTS = {
    FRONT_DOOR: "is the endpoint up and reachable? with auth jwt pass --token or --token-file"
    " (`votectl token` mints one locally)",
    RECEIVER: "see the receiver's lines with `votectl logs --function receiver`",
    "votes queue": "the receiver cannot send to the votes queue: check the queue and its policy",
    "processor": "see `votectl logs --function processor` and `votectl queue peek votes-dlq`",
    "ready queue": "the processor cannot send to the ready queue: check the queue",
    "writer": "see `votectl logs --function writer` and `votectl queue peek ready-dlq`",
    "table": "the queues are empty but the vote is not stored: "
    "see `votectl logs --function writer`",
    "DLQ": "see `votectl queue peek` for what reached a DLQ, then `votectl redrive`",
}
MAX_LOG_LINES = 8
DLQ_SETTLE_SECONDS = 5.0
DLQ_CHECK_SECONDS = 1.0
Clock = Callable[[], float]


@dataclass(frozen=True)
class VoteCheck:
    """One marked vote: what was sent, what it had to do, and what it did."""

    name: str  # first, re-vote, older, refused
    aspect: str
    score: int
    voted_at: str
    expect: str  # stored, wins, loses, refused
    outcome: str  # the same word when it did; "pending" when the run stopped before
    status: int | None  # the HTTP status the front door (or the invoked receiver) answered
    correlation_id: str | None
    latency_ms: float | None  # send -> seen in the table (older: its marker seen; refused: reply)


@dataclass(frozen=True)
class DlqDepth:
    name: str
    before: int
    after: int


@dataclass(frozen=True)
class CanaryResult:
    ok: bool
    run_id: str
    via: str  # "http" or "invoke"
    door: str  # the URL posted to, or the receiver function invoked
    user_id: str
    title_id: str
    votes: list[VoteCheck]
    write_path: str | None  # what served the re-vote: partiql, classic, local, unknown
    dlqs: list[DlqDepth]
    deleted: int  # canary items deleted
    leftover: int  # canary items still there after the delete
    notes: list[str] = field(default_factory=list)
    hop: str | None = None
    error: str | None = None
    queues: list[QueueStat] = field(default_factory=list)  # on failure: every queue's depth
    logs: list[str] = field(default_factory=list)  # on failure: the lines that tell why

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CanaryFailed(VotectlError):
    """The canary's votes did not make it; ``result`` says where (exit 1)."""

    def __init__(self, result: CanaryResult) -> None:
        hint = _HINTS[result.hop or ""]
        super().__init__(f"canary: the vote stopped at the {result.hop}: {result.error}", hint)
        self.result = result


def token_subject(token: str) -> str:
    """The ``sub`` of a JWT (not verified: the front door does that); the canary votes as it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        sub = claims["sub"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise UsageError(
            "--token is not a JWT with a sub claim", hint="mint one with `votectl token --user U`"
        ) from None
    if not isinstance(sub, str) or not sub.strip():
        raise UsageError("--token's sub claim is empty")
    return sub.strip()


class _Stop(Exception):
    def __init__(self, hop: str, error: str) -> None:
        super().__init__(error)
        self.hop, self.error = hop, error


@dataclass
class _Run:
    """One run's votes on their way: sending, waiting for the table, and what each did."""

    probe: Probe
    user: str
    title: str
    deadline: float
    clock: Clock
    sleep: Callable[[float], None]
    checks: dict[str, VoteCheck] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    dlq_grew: Callable[[], str | None] = lambda: None  # what a DLQ gained since the start

    def vote(self, aspect: str, score: int, at: datetime) -> dict[str, Any]:
        return {
            "user_id": self.user,
            "title_id": self.title,
            "aspect": aspect,
            "score": score,
            "voted_at": at.isoformat().replace("+00:00", "Z"),
        }

    def send(self, name: str, body: dict[str, Any], expect: str) -> tuple[Sent, float]:
        vote = body["votes"][0] if "votes" in body else body
        began = self.clock()
        sent = self.probe.send(json.dumps(body).encode(), self.user)
        if sent.request_id:
            self.ids.append(sent.request_id)
        self.checks[name] = VoteCheck(
            name, vote["aspect"], vote["score"], vote["voted_at"], expect, "pending",
            sent.status, sent.request_id, None,
        )  # fmt: skip
        return sent, began

    def accepted(self, name: str, sent: Sent) -> None:
        if sent.status == 202:
            return
        why = f"{name} vote answered {sent.status}: {sent.error or 'no JSON error'}"
        if sent.status in (401, 403, 429):  # refused, or throttled, before the receiver ran
            raise _Stop(FRONT_DOOR, why)
        if sent.status == 503 and "votes queue" in sent.error:
            raise _Stop("votes queue", why)
        raise _Stop(RECEIVER, why)

    def wait(self, name: str, aspect: str, done: Callable[[int | None], bool], began: float) -> int:
        """Poll the table until ``done(score or None)``; the score, or _Stop at the deadline or
        as soon as a DLQ gained a message while the source queues are empty (checked every
        DLQ_CHECK_SECONDS): the vote is then in a DLQ and will not reach the table."""
        pause = 0.02
        next_check = self.clock() + DLQ_CHECK_SECONDS
        while True:
            stored = self.probe.read(self.user, self.title, aspect)
            score = None if stored is None else stored.score
            if done(score):
                self.finish(name, began)
                return score or 0
            if self.clock() > self.deadline:
                raise _Stop("", f"{name} vote not in the table (saw score {score})")
            if self.clock() >= next_check:
                grew = self.dlq_grew()
                if grew:
                    raise _Stop("", f"{name} vote not in the table and {grew}")
                next_check = self.clock() + DLQ_CHECK_SECONDS
            self.sleep(pause)
            pause = min(pause * 2, 0.5)

    def finish(self, name: str, began: float) -> None:
        """The vote did what it must, ``began`` (clock) ago."""
        check = self.checks[name]
        latency = round((self.clock() - began) * 1000, 1)
        self.checks[name] = replace(check, outcome=check.expect, latency_ms=latency)


def _dlq_depths(stats: list[QueueStat]) -> dict[str, int]:
    return {q.name: q.visible + q.in_flight + q.delayed for q in stats if q.dlq}


def run_canary(
    ops: Operations,
    token: str | None = None,
    timeout: float = 60.0,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CanaryResult:
    """Send the four marked votes and judge them; CanaryFailed names the hop on failure."""
    run_id = uuid.uuid4().hex[:12]
    title = f"votectl-canary-{run_id}"
    user = token_subject(token) if token else title
    probe = ops.probe(token)
    run = _Run(probe, user, title, clock() + timeout, clock, sleep)
    before = _dlq_depths(ops.queue_stats())
    run.dlq_grew = lambda: _landed(ops.queue_stats(), before)
    after = dict(before)
    started = time.time()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)  # never "future"
    write_path: str | None = None
    deleted = leftover = 0
    try:
        try:
            sent, began = run.send("first", run.vote("overall", 3, base), "stored")
            run.accepted("first", sent)
            run.wait("first", "overall", lambda s: s == 3, began)

            sent, began = run.send("re-vote", run.vote("overall", 5, base + timedelta(seconds=1)),
                                   "wins")  # fmt: skip
            run.accepted("re-vote", sent)
            run.wait("re-vote", "overall", lambda s: s == 5, began)
            stored = probe.read(user, title, "overall")
            write_path = (stored and stored.write_path) or probe.default_write_path

            older = run.vote("overall", 1, base - timedelta(seconds=1))
            marker = run.vote("story", 4, base - timedelta(seconds=1))
            sent, began = run.send("older", {"votes": [older, marker]}, "loses")
            run.accepted("older", sent)
            run.wait("older", "story", lambda s: s == 4, began)
            now = probe.read(user, title, "overall")
            if now is None or now.score != 5:
                seen = now and now.score
                raise _Stop("writer", f"the older vote overwrote the re-vote (score {seen})")

            sent, began = run.send("refused", run.vote("sound", 9, base), "refused")
            if not 400 <= sent.status < 500 or sent.body is None or not sent.error:
                raise _Stop(RECEIVER, f"a vote of score 9 was answered {sent.status}, not a 4xx"
                            " with a JSON error")  # fmt: skip
            run.finish("refused", began)
        except Unreachable as exc:
            raise _Stop(exc.hop, str(exc)) from None
        after = _wait_dlqs(ops, run)
        grew = _grown(after, before)
        if grew:
            raise _Stop("DLQ", f"{grew} during the run")
        if probe.read(user, title, "sound") is not None:
            raise _Stop(RECEIVER, "the refused vote reached the table")
    except _Stop as stop:
        hop, error, stats = stop.hop, stop.error, ops.queue_stats()
        if not hop:
            hop, error = _where(stats, before, error)
        after = _dlq_depths(stats)
        deleted, leftover = _clean(probe, user, title)
        result = CanaryResult(
            False, run_id, probe.via, probe.door, user, title, _checks(run), write_path,
            _dlqs(before, after), deleted, leftover, probe.notes, hop,
            f"{error}; queues: {_depths(stats, before)}", stats,
            _log_lines(ops, hop, run.ids, time.time() - started),
        )  # fmt: skip
        raise CanaryFailed(result) from None
    deleted, leftover = _clean(probe, user, title)
    return CanaryResult(
        True, run_id, probe.via, probe.door, user, title, _checks(run), write_path,
        _dlqs(before, after), deleted, leftover, probe.notes,
    )  # fmt: skip


def _checks(run: _Run) -> list[VoteCheck]:
    return [run.checks[n] for n in ("first", "re-vote", "older", "refused") if n in run.checks]


def _grown(after: dict[str, int], before: dict[str, int]) -> str | None:
    """What the DLQs gained, as "a DLQ gained messages (ready-dlq +1)"; None if nothing."""
    grew = [f"{n} +{after[n] - before.get(n, 0)}" for n in after if after[n] > before.get(n, 0)]
    return f"a DLQ gained messages ({', '.join(grew)})" if grew else None


def _landed(stats: list[QueueStat], before: dict[str, int]) -> str | None:
    """What the DLQs gained, once nothing is left in the source queues (so the vote is in a DLQ,
    not still on its way); None otherwise."""
    if sum(q.visible + q.in_flight + q.delayed for q in stats if not q.dlq):
        return None
    return _grown(_dlq_depths(stats), before)


def _wait_dlqs(ops: Operations, run: _Run) -> dict[str, int]:
    """The DLQ depths once the source queues are empty (a message on its way to a DLQ is
    then in it), waiting at most DLQ_SETTLE_SECONDS: a busy stage's queues are never empty.

    On AWS the counts are SQS's approximate ones, which "may not achieve consistency until at
    least 1 minute after the producers stop sending messages"
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html):
    a DLQ move in the run's last minute may show only in the next run's "before"."""
    until = min(run.deadline, run.clock() + DLQ_SETTLE_SECONDS)
    while True:
        stats = ops.queue_stats()
        busy = sum(q.visible + q.in_flight + q.delayed for q in stats if not q.dlq)
        if busy == 0 or run.clock() > until:
            return _dlq_depths(stats)
        run.sleep(0.2)


def _where(stats: list[QueueStat], before: dict[str, int], error: str) -> tuple[str, str]:
    """Where a vote the front door accepted stopped, from the queues' depths."""
    depth = {q.name: q.visible + q.in_flight + q.delayed for q in stats}
    if depth.get("votes-dlq", 0) > before.get("votes-dlq", 0):
        return "processor", f"{error}; the processor failed it to votes-dlq"
    if depth.get("ready-dlq", 0) > before.get("ready-dlq", 0):
        return "writer", f"{error}; the writer failed it to ready-dlq"
    if depth.get("votes", 0):
        return "processor", f"{error}; still in the votes queue"
    if depth.get("ready", 0):
        return "writer", f"{error}; still in the ready queue"
    return "table", f"{error}; the queues are empty and no DLQ gained"


def _depths(stats: list[QueueStat], before: dict[str, int]) -> str:
    parts = []
    for q in stats:
        n = q.visible + q.in_flight + q.delayed
        text = f"{q.name} {n}" + (f" ({q.in_flight} in flight)" if q.in_flight else "")
        if q.dlq:
            text += f" ({n - before.get(q.name, 0):+d})"
        parts.append(text)
    return ", ".join(parts)


def _dlqs(before: dict[str, int], after: dict[str, int]) -> list[DlqDepth]:
    return [DlqDepth(n, before[n], after.get(n, before[n])) for n in before]


def _clean(probe: Probe, user: str, title: str) -> tuple[int, int]:
    """Delete the canary's items (the refused vote's aspect too, should it have been stored);
    (items deleted, items still there)."""
    deleted = leftover = 0
    for aspect in ("overall", "story", "sound"):
        try:
            if probe.read(user, title, aspect) is None:
                continue
            probe.delete(user, title, aspect)
            deleted += 1
            leftover += probe.read(user, title, aspect) is not None
        except VotectlError:
            leftover += 1
    return deleted, leftover


def _log_lines(ops: Operations, hop: str, ids: list[str], since_s: float) -> list[str]:
    """The lines naming the canary's correlation ids, and the hop's functions' warnings."""
    functions = _LOGS_OF.get(hop, ("receiver", "processor", "writer"))
    try:
        events = list(ops.logs(LogQuery(since_s=since_s + 5)))
    except VotectlError as exc:
        return [f"(logs unreadable: {exc})"]
    lines = [
        (e.raw or e.message) if (e.raw or "").startswith(e.function) else f"{e.function}: {e.raw}"
        for e in events
        if any(i in e.raw for i in ids)
        or (
            e.function in functions
            and ((e.level or "").upper() in ("WARNING", "ERROR", "CRITICAL") or "fail" in e.raw)
        )
    ]
    return lines[-MAX_LOG_LINES:] or [f"(no log line of {', '.join(functions)} names the canary)"]
