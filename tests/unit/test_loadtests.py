"""The pure parts of the Locust scenarios and of `votectl loadtest`: no Locust run, no I/O."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loadtests._shapes import plan, tick
from loadtests._tally import Counts, Tally, Totals
from loadtests._traffic import ASPECTS, VoteSource, Zipf, batch_json, id_prefix
from votectl.errors import UsageError, VotectlError
from votectl.loadtest import LoadSettings, locust_command, parse_duration, read_summary


def test_zipf_probabilities_follow_the_law() -> None:
    zipf = Zipf(1000, s=1.0)
    assert sum(zipf.probability(k) for k in range(1, 1001)) == pytest.approx(1.0)
    assert zipf.probability(1) / zipf.probability(10) == pytest.approx(10.0)


def test_zipf_samples_match_the_probabilities() -> None:
    zipf = Zipf(100, s=1.2, rng=random.Random(1))
    counts = Counter(zipf.sample() for _ in range(50_000))
    assert set(counts) <= set(range(1, 101))
    assert counts[1] / 50_000 == pytest.approx(zipf.probability(1), abs=0.01)
    assert counts[1] > counts[2] > counts[10]


def test_zipf_rejects_an_empty_catalogue() -> None:
    with pytest.raises(ValueError):
        Zipf(0)


def test_votes_are_valid_json_with_varied_aspects_and_scores() -> None:
    source = VoteSource("lt-x-w0-p1", titles=50, rng=random.Random(2))
    votes = [source.vote() for _ in range(2000)]
    decoded = [json.loads(v.json()) for v in votes]
    assert {d["aspect"] for d in decoded} == set(ASPECTS)
    assert {d["score"] for d in decoded} == {1, 2, 3, 4, 5}
    assert all(1 <= int(d["title_id"][2:]) <= 50 for d in decoded)
    assert len({d["user_id"] for d in decoded}) > 100  # voters come and go
    assert json.loads(batch_json(votes[:3])) == {"votes": decoded[:3]}


def test_user_ids_never_collide_between_processes() -> None:
    a = VoteSource(id_prefix("run1", 0, 100), rng=random.Random(3))
    b = VoteSource(id_prefix("run1", 1, 100), rng=random.Random(3))  # same seed, other worker
    c = VoteSource(id_prefix("run2", 0, 100), rng=random.Random(3))  # same worker, next run
    ids = [{s.vote().identity for _ in range(5000)} for s in (a, b, c)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]


def test_a_revote_keeps_the_identity_and_is_later() -> None:
    source = VoteSource("p", rng=random.Random(4))
    first = source.vote(voted_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    second = source.revote(first, datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC))
    assert second.identity == first.identity and second.score != first.score
    assert json.loads(second.json())["voted_at"] == "2026-01-01T12:00:01.000000Z"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("steady", [(0, 40), (59, 40)]),
        ("step", [(0, 10), (15, 20), (30, 30), (59, 40)]),
        ("spike", [(0, 8), (24, 40), (36, 8), (59, 8)]),
    ],
)
def test_shapes_tick_then_stop(shape: str, expected: list[tuple[float, int]]) -> None:
    stages = plan(shape, users=40, spawn_rate=10, duration=60)
    for at, users in expected:
        result = tick(stages, at)
        assert result is not None and result[0] == users, (shape, at)
    assert tick(stages, 60) is None


def test_a_spike_spawns_at_once() -> None:
    spike = tick(plan("spike", users=40, spawn_rate=2, duration=60), 30)
    assert spike == (40, 40.0)


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        plan("sawtooth", 10, 1, 60)


def test_totals_add_workers_to_the_local_tally() -> None:
    local = Tally()
    local.accept(["a", "b"])
    local.accept(["a"])  # a duplicate send
    totals = Totals(local)
    totals.report("w1", {"requests": 5, "votes": 500, "distinct": 480})
    totals.report("w1", {"requests": 6, "votes": 600, "distinct": 570})  # the latest wins
    totals.report("w2", Counts(1, 1, 1).to_json())
    assert totals.counts() == Counts(requests=9, votes=604, distinct=573)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30s", 30), ("2m", 120), ("1h1m1s", 3661)]
)
def test_durations_in_locust_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "ten", "5x", "-3"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize(
    "kwargs",
    [{"users": 0}, {"shape": "ramp"}, {"user_classes": ("Voter",)}, {"batch_size": 501}],
)
def test_bad_settings_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        LoadSettings(**kwargs)  # type: ignore[arg-type]


def test_the_locust_command_carries_the_settings(tmp_path: Path) -> None:
    settings = LoadSettings(
        users=7,
        duration="1m",
        shape="step",
        user_classes=("BatchVoter",),
        batch_size=20,
        report_dir=tmp_path,
    )
    cmd = locust_command("http://127.0.0.1:9", settings)
    assert cmd[-1] == "BatchVoter"
    pairs = dict(zip(cmd, cmd[1:], strict=False))
    assert pairs["--host"] == "http://127.0.0.1:9" and pairs["-u"] == "7" and pairs["-r"] == "7"
    assert pairs["-t"] == "60s" and pairs["--shape"] == "step" and pairs["--batch-size"] == "20"
    assert Path(pairs["-f"], "locustfile.py").exists()
    assert pairs["--summary-file"] == str(tmp_path / "summary.json")


def test_the_summary_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(
        json.dumps(
            {
                "requests": 10,
                "failures": 2,
                "requests_per_s": 5.0,
                "p50_ms": 1,
                "p99_ms": 7,
                "errors": [
                    {
                        "method": "POST",
                        "name": "bad: oversized",
                        "error": "expected 413, got 500",
                        "occurrences": 2,
                    }
                ],
                "votes_accepted": 8,
                "distinct_votes": 8,
                "duration_s": 2.0,
            }
        )
    )
    stats, errors, data = read_summary(path)
    assert (stats.requests, stats.failures, stats.p99_ms) == (10, 2, 7.0)
    assert errors[0].name == "bad: oversized" and errors[0].occurrences == 2
    assert data["distinct_votes"] == 8


def test_a_missing_summary_is_an_operational_error(tmp_path: Path) -> None:
    with pytest.raises(VotectlError) as exc:
        read_summary(tmp_path / "summary.json")
    assert exc.value.exit_code == 1
