"""The whole local pipeline through a real `votectl up` subprocess, driven with httpx."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.functional.conftest import Up, poll, votectl


def vote(
    user: str, title: str = "t1", aspect: str = "story", score: int = 4, **extra: object
) -> dict[str, object]:
    return {"user_id": user, "title_id": title, "aspect": aspect, "score": score, **extra}


def test_votes_flow_to_the_table_and_results(up: Up) -> None:
    with up.client() as client:
        single = client.post("/votes", json=vote("alice", score=5))
        batch = client.post(
            "/votes", json={"votes": [vote(f"u{i}", score=1 + i % 5) for i in range(200)]}
        )
    assert single.status_code == 202 and single.json()["accepted"] == 1
    assert single.headers["content-length"] == str(len(single.content))  # as API Gateway's
    assert "transfer-encoding" not in single.headers
    assert batch.status_code == 202 and batch.json()["accepted"] == 200
    assert single.json()["request_id"] != batch.json()["request_id"]
    up.drained()
    assert up.stored() == 201
    story = up.json("results", "t1")["aspects"]["story"]
    assert story["votes"] == 201
    assert story["scores"] == {"1": 40, "2": 40, "3": 40, "4": 40, "5": 41}
    assert story["mean"] == round((40 * (1 + 2 + 3 + 4) + 41 * 5) / 201, 3)


def test_the_latest_vote_wins_whatever_the_arrival_order(up: Up) -> None:
    with up.client() as client:
        for score, at in (
            (2, "2026-01-02T00:00:00Z"),
            (5, "2026-01-01T00:00:00Z"),
            (2, "2026-01-02T00:00:00Z"),
        ):
            assert (
                client.post("/votes", json=vote("bob", voted_at=at, score=score)).status_code == 202
            )
    up.drained()
    assert up.stored() == 1
    assert up.json("results", "t1")["aspects"]["story"]["scores"]["2"] == 1


def test_bad_requests_get_json_4xx_and_store_nothing(up: Up) -> None:
    with up.client() as client:
        answers = [
            client.post(
                "/votes", content=b"{not json", headers={"content-type": "application/json"}
            ),
            client.post("/votes", json=vote("x", score=True)),
            client.post("/votes", json={"votes": [vote("ok"), vote("bad", aspect="smell")]}),
            client.post("/votes", content=b"x" * (256 * 1024 + 10)),
            client.post("/votes", content=b"x" * (11 * 1024 * 1024)),
            client.get("/votes"),
            client.post("/elsewhere", json=vote("x")),
        ]
        health = client.get("/health")
    assert [r.status_code for r in answers] == [400, 400, 400, 413, 413, 405, 404]
    assert all("error" in r.json() for r in answers)
    assert answers[2].json()["details"] == [
        {
            "message": "must be one of acting, overall, sound, story, visuals",
            "index": 1,
            "field": "aspect",
        }
    ]
    assert health.status_code == 200
    assert up.backlog() == 0 and up.stored() == 0


def _hammer(url: str, start: int, count: int) -> list[str]:
    """POST distinct votes; return the user ids acknowledged with 202."""
    acked = []
    with httpx.Client(base_url=url, timeout=5.0) as client:
        for i in range(start, start + count):
            try:
                if client.post("/votes", json=vote(f"k{i}")).status_code == 202:
                    acked.append(f"k{i}")
            except httpx.HTTPError:
                break
    return acked


def test_kill_9_loses_no_acknowledged_vote_and_a_restart_resumes(
    up_factory: Callable[..., Up], tmp_path: Path
) -> None:
    up = up_factory("--visibility-timeout", "1")
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(_hammer, up.url, n * 100_000, 100_000) for n in range(4)]
        poll(lambda: up.stored() > 500, timeout=30)  # mid-stream, with votes in every stage
        up.kill_group(signal.SIGKILL)
        acked = [user for f in futures for user in f.result()]
    up.proc.wait(10)
    assert len(acked) > 500
    again = up_factory("--visibility-timeout", "1", data_dir=up.data_dir)
    poll(lambda: again.backlog() == 0 and again.stored() >= len(acked), timeout=60)
    assert again.stored() >= len(acked)  # votes sent but not yet answered may be stored too
    assert again.stored() <= len(acked) + 4 * 8  # ... at most the requests in flight


def test_sigterm_stops_gracefully_within_10_seconds(up: Up) -> None:
    with up.client() as client:
        assert (
            client.post("/votes", json={"votes": [vote(f"s{i}") for i in range(300)]}).status_code
            == 202
        )
    started = time.monotonic()
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(10) == 0
    assert time.monotonic() - started < 10
    assert not (up.data_dir / "up.json").exists()
    assert up.stored() + up.backlog() >= 1  # what was acknowledged is somewhere durable


def test_chaos_in_the_writer_is_retried_until_every_vote_is_stored(
    up_factory: Callable[..., Up],
) -> None:
    up = up_factory(
        "--visibility-timeout", "0.5", "--max-receive-count", "50", "--chaos", "writer=0.5"
    )
    with up.client() as client:
        for n in range(20):
            client.post("/votes", json={"votes": [vote(f"c{n}-{i}") for i in range(10)]})
    poll(lambda: up.stored() == 200, timeout=60)
    assert sum(q["visible"] for q in up.json("queue", "stats")["queues"] if q["dlq"]) == 0


def test_poison_batches_reach_the_dlq_and_redrive_recovers_them(
    up_factory: Callable[..., Up], tmp_path: Path
) -> None:
    up = up_factory(
        "--visibility-timeout", "0.3", "--max-receive-count", "1", "--chaos", "writer=1"
    )
    with up.client() as client:
        assert (
            client.post("/votes", json={"votes": [vote(f"p{i}") for i in range(50)]}).status_code
            == 202
        )

    def dlq() -> int:
        queues = up.query("queue", "stats")["queues"]
        return next(q["visible"] for q in queues if q["name"] == "ready-dlq")

    poll(lambda: dlq() >= 1, timeout=30)
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(10) == 0
    moved = up.json("redrive")
    assert moved["moved"] >= 1 and moved["method"] == "local"
    healthy = up_factory("--visibility-timeout", "0.3", data_dir=up.data_dir)
    poll(lambda: healthy.stored() == 50, timeout=30)


def test_a_second_up_on_the_same_data_dir_is_refused(up: Up) -> None:
    result = votectl("up", "--port", "0", "--data-dir", str(up.data_dir), "--quiet")
    assert result.returncode == 1
    assert "another `votectl up`" in result.stderr and "hint:" in result.stderr
    assert f"`votectl down --data-dir {up.data_dir}` stops it" in result.stderr
    assert "Traceback" not in result.stderr


def test_inspecting_commands_have_stable_json(up: Up) -> None:
    with up.client() as client:
        client.post("/votes", json=vote("z", title="t9", aspect="sound", score=3))
    up.drained()
    stats = up.json("queue", "stats")
    assert [(q["name"], q["dlq"], q["source"]) for q in stats["queues"]] == [
        ("votes", False, None),
        ("votes-dlq", True, "votes"),
        ("ready", False, None),
        ("ready-dlq", True, "ready"),
    ]
    assert set(stats["queues"][0]) == {"name", "visible", "in_flight", "delayed", "dlq", "source"}
    count = up.json("table", "count")
    assert (count["table"], count["count"], count["exact"]) == ("votes", 1, True)
    results = up.json("results", "t9")
    assert results == {
        "title_id": "t9",
        "aspects": {
            "sound": {"votes": 1, "mean": 3.0, "scores": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}}
        },
    }
    redrive = up.json("redrive")
    assert redrive["moved"] == 0 and json.dumps(redrive)


def test_two_gateway_workers_share_the_port_and_lose_nothing(up_factory: Callable[..., Up]) -> None:
    up = up_factory("--workers", "2")
    with ThreadPoolExecutor(4) as pool:
        acked = [
            u
            for f in [pool.submit(_hammer, up.url, n * 1000, 150) for n in range(4)]
            for u in f.result()
        ]
    assert len(acked) == 600
    up.drained()
    assert up.stored() == 600
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(10) == 0


def test_a_message_that_can_never_be_valid_is_dropped_not_retried(up: Up) -> None:
    from votectl.local.queue import SqliteQueue

    queue = SqliteQueue(up.data_dir / "votes-queue.db", "votes")
    queue.send([b"not a vote envelope", b'{"votes": [{"user_id": "x"}]}'])
    up.drained()
    stats = {q["name"]: q for q in up.json("queue", "stats")["queues"]}
    assert stats["votes-dlq"]["visible"] == 0  # dropped at once, never retried into the DLQ
    assert up.stored() == 0


def test_a_poller_killed_is_restarted_and_up_json_names_the_new_one(up: Up) -> None:
    def processes() -> dict[str, int]:
        return dict(json.loads((up.data_dir / "up.json").read_text())["processes"])

    before = processes()
    assert set(before) == {"gateway-0", "processor", "writer"}
    os.kill(before["writer"], signal.SIGKILL)
    after = poll(lambda: processes() if processes()["writer"] != before["writer"] else None, 30)
    assert after["processor"] == before["processor"] and after["gateway-0"] == before["gateway-0"]
    with up.client() as client:
        assert client.post("/votes", json=vote("after-restart")).status_code == 202
    up.drained()
    assert up.stored() == 1
