"""`votectl redrive` on the local target reports as the AWS target does: while a `votectl up`
still fails the messages, they come back and the command says so (exit 1); once it handles
them, exit 0; with no `votectl up`, they wait queued for the next one."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.functional.conftest import Up, poll, votectl

VOTE = {"title_id": "t1", "aspect": "story", "score": 4}
FAILING = ("--chaos", "processor=1", "--visibility-timeout", "0.5", "--max-receive-count", "2")


def _dlq(up: Up) -> int:
    queues = up.query("queue", "stats")["queues"]
    return next(q["visible"] + q["in_flight"] for q in queues if q["name"] == "votes-dlq")


def _poisoned(up: Up, votes: int = 3) -> int:
    with up.client() as client:
        for n in range(votes):
            assert client.post("/votes", json={**VOTE, "user_id": f"u{n}"}).status_code == 202
    poll(lambda: up.backlog() == 0 and _dlq(up) > 0, timeout=60)
    return _dlq(up)


def test_redrive_while_the_consumer_still_fails_says_they_came_back(
    up_factory: Callable[..., Up],
) -> None:
    up = up_factory(*FAILING)
    in_dlq = _poisoned(up)
    done = votectl("redrive", "--data-dir", str(up.data_dir), "--json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["moved"] == in_dlq and result["came_back"] == in_dlq
    assert f"votes-dlq: moved {in_dlq}; {in_dlq} came back to the DLQ" in done.stderr
    assert "the consumer still fails them" in done.stderr
    assert _dlq(up) == in_dlq  # where they are when the command says so


def test_redrive_to_a_healthy_consumer_waits_until_they_are_handled(
    up_factory: Callable[..., Up],
) -> None:
    sick = up_factory(*FAILING)
    in_dlq = _poisoned(sick)
    assert votectl("down", "--data-dir", str(sick.data_dir)).returncode == 0
    queued = votectl("redrive", "--data-dir", str(sick.data_dir), "--json")
    assert queued.returncode == 0, queued.stderr
    moves = json.loads(queued.stdout)["queues"]
    assert [(m["dlq"], m["moved"], m["status"]) for m in moves if m["moved"]] == [
        ("votes-dlq", in_dlq, "QUEUED")
    ]
    human = votectl("redrive", "--data-dir", str(sick.data_dir))  # nothing left to move
    assert human.returncode == 0 and "COMPLETED" in human.stdout

    healthy = up_factory(data_dir=sick.data_dir)
    poll(lambda: healthy.stored() == 3, timeout=60)
    assert _dlq(healthy) == 0


def test_redrive_waits_for_the_running_consumer(up_factory: Callable[..., Up]) -> None:
    sick = up_factory(*FAILING)
    in_dlq = _poisoned(sick)
    assert votectl("down", "--data-dir", str(sick.data_dir)).returncode == 0
    healthy = up_factory(data_dir=sick.data_dir)
    done = votectl("redrive", "--data-dir", str(healthy.data_dir), "--json")
    assert done.returncode == 0, done.stderr
    votes = next(m for m in json.loads(done.stdout)["queues"] if m["dlq"] == "votes-dlq")
    assert (votes["moved"], votes["came_back"], votes["pending"], votes["status"]) == (
        in_dlq,
        0,
        0,
        "COMPLETED",
    )
    assert healthy.json("queue", "stats")["queues"][0]["visible"] == 0  # handled, not queued
