"""`votectl queue peek` and `redrive --dry-run` look without changing anything (a real
`votectl up` whose writer fails every batch, so votes reach the ready DLQ)."""

from __future__ import annotations

from collections.abc import Callable

from tests.functional.conftest import Up, poll, votectl

VOTES = [
    {"user_id": f"u{i}", "title_id": "t1", "aspect": "story", "score": 1 + i % 5} for i in range(3)
]


def test_peek_and_dry_run_leave_the_queues_as_they_were(up_factory: Callable[..., Up]) -> None:
    up = up_factory("--chaos", "writer=1", "--max-receive-count", "1", "--visibility-timeout", "1")
    with up.client() as client:
        reply = client.post("/votes", json={"votes": VOTES})
        assert reply.status_code == 202
        request_id = reply.json()["request_id"]
    dlq = lambda: {q["name"]: q for q in up.query("queue", "stats")["queues"]}["ready-dlq"]  # noqa: E731
    poll(lambda: dlq()["visible"] >= 1, timeout=60)
    up.kill_group()  # nothing moves from here on: the counts below must not change
    up.proc.wait(10)
    before = up.json("queue", "stats")

    peeked = up.json("queue", "peek")["messages"]
    assert peeked and {m["queue"] for m in peeked} == {"ready-dlq"}
    assert sum(m["votes"] for m in peeked) == len(VOTES)
    first = peeked[0]
    assert first["sample"][0]["title_id"] == "t1" and first["receive_count"] >= 0
    assert first["age_s"] >= 0 and first["problem"] is None
    # packed by the processor, the message still names the request the receiver answered
    assert {i for m in peeked for i in m["correlation_ids"]} == {request_id}
    again = up.json("queue", "peek", "ready-dlq", "--count", "1")["messages"]
    assert [m["message_id"] for m in again] == [peeked[0]["message_id"]]
    assert again[0]["receive_count"] == first["receive_count"]
    assert up.json("queue", "stats") == before

    plan = up.json("redrive", "--dry-run")
    assert plan["method"] == "dry-run" and plan["moved"] == 0
    assert {q["dlq"]: q["would_move"] for q in plan["queues"]} == {
        "votes-dlq": 0,
        "ready-dlq": dlq()["visible"],
    }
    assert up.json("queue", "stats") == before

    human = votectl("queue", "peek", "--data-dir", str(up.data_dir), env={"COLUMNS": "200"})
    assert human.returncode == 0 and "left in place" in human.stdout
    assert request_id in human.stdout  # the id a person greps the logs for
    bad = votectl("queue", "peek", "nope", "--data-dir", str(up.data_dir))
    assert bad.returncode == 2 and "unknown queue" in bad.stderr and "hint:" in bad.stderr
