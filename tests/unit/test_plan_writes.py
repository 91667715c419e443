"""The plan's write units per vote on both write paths, their prices, the table's key, the
logs without platform lines, and what a stage holds (issue 17)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from votectl.config import Stage
from votectl.plan import holds, plan_stage
from votectl.plan.cost import GIB, SECONDS_PER_MONTH
from votectl.plan.measured import MEASURED
from votectl.plan.prices import PRICES
from votectl.plan.writes import WriteUnits

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("path", "revote", "redelivery", "units"),
    [
        ("partiql", 0.0, 0.0, 1.0),
        ("partiql", 0.10, 0.0, 1.10),  # a failed INSERT on a stored item costs a unit
        ("partiql", 0.10, 0.01, 1.12),  # a stored vote again: failed INSERT + failed UPDATE
        ("partiql", 1.0, 0.0, 2.0),
        ("classic", 0.10, 0.0, 1.0),  # one conditional UpdateItem, re-vote or not
        ("classic", 0.10, 0.01, 1.01),
    ],
)
def test_write_units_per_vote(path: str, revote: float, redelivery: float, units: float) -> None:
    w = WriteUnits(path, revote, redelivery)
    assert w.per_vote == pytest.approx(units)
    assert sum(w.parts.values()) == pytest.approx(units)
    assert f"{units:.3f} WRU per vote" in w.formula()


def test_the_revote_share_moves_the_table_bill() -> None:
    none = plan_stage(Stage(), 10_000, 100, revote_share=0.0, redelivery_share=0.0)
    half = plan_stage(Stage(), 10_000, 100, revote_share=0.5, redelivery_share=0.0)
    assert none.flow.write_units_per_s == pytest.approx(10_000)
    assert half.flow.write_units_per_s == pytest.approx(15_000)
    assert none.components[-1].cost.parts["writes"] == pytest.approx(10_000 * 0.625e-6)
    assert half.components[-1].cost.parts["writes"] == pytest.approx(15_000 * 0.625e-6)


def test_both_write_paths_are_priced_and_the_cheaper_named() -> None:
    """Classic: 1 unit a vote but the writer's measured 539 votes/s per invocation against
    PartiQL's 5,628 (about 10x the GB-s). At 10 % re-votes the units cost more than the
    time: classic is cheaper; with no re-votes PartiQL is."""
    plan = plan_stage(Stage(), 10_000, 100)
    partiql, classic = plan.write_paths
    assert (partiql.path, classic.path) == ("partiql", "classic")
    ratio = classic.writer_concurrency / partiql.writer_concurrency
    assert ratio == pytest.approx(MEASURED.writer.votes_per_s_per_invocation / 539, rel=0.01)
    assert (partiql.write_units_per_vote, classic.write_units_per_vote) == pytest.approx(
        (1.12, 1.01)
    )
    assert plan.cheaper_write_path is not None and plan.cheaper_write_path.path == "classic"
    units = (1.12 - 1.01) * PRICES.dynamodb_wru_per_million  # $ per million votes
    assert partiql.per_million_votes - classic.per_million_votes < units
    plain = plan_stage(Stage(), 10_000, 100, revote_share=0.0, redelivery_share=0.0)
    assert plain.cheaper_write_path is not None and plain.cheaper_write_path.path == "partiql"
    chosen = plan_stage(replace(Stage(), write_path="classic"), 10_000, 100)
    assert chosen.write_paths[0].path == "classic"
    assert chosen.flow.writer.concurrency == pytest.approx(classic.writer_concurrency)


def test_a_customer_key_is_priced_and_the_aws_owned_key_is_free() -> None:
    owned = plan_stage(Stage(), 10_000, 100)
    keyed = plan_stage(replace(Stage(), table_kms_key=KEY), 10_000, 100)
    assert "KMS key" not in owned.components[-1].cost.parts
    kms = keyed.components[-1].cost.parts["KMS key"] * SECONDS_PER_MONTH
    assert PRICES.kms_key_month <= kms < PRICES.kms_key_month + 1.0


def test_logs_carry_no_platform_lines() -> None:
    """SystemLogLevel WARN: no START/END/REPORT; the receiver logs nothing for a good request
    (the issue's $0.186 per million single votes for its platform lines is gone)."""
    plan = plan_stage(Stage(), 5_000, 1)
    receiver = {c.name: c.cost for c in plan.components}["receiver"]
    assert receiver.parts["logs"] == 0
    writer = {c.name: c for c in plan.components}["writer"]
    per_invocation = MEASURED.writer.log_bytes_per_invocation
    assert writer.cost.parts["logs"] == pytest.approx(
        plan.flow.writer.invocations_per_s * per_invocation / GIB * PRICES.logs_ingest_per_gb
    )


def test_what_the_default_stage_holds() -> None:
    single, batched = holds(Stage(name="dev"), 1), holds(Stage(name="dev"), 100)
    # single votes: the stage's own API throttle (5,000 requests/s)
    assert single.votes_per_s == pytest.approx(5_000, rel=0.002)
    assert single.binding is not None and single.binding.limit == "stage throttle_rate"
    # 100-vote requests: the 40,000 WRU/s table quota at 1.12 units a vote and 20 % headroom
    assert batched.votes_per_s == pytest.approx(40_000 / 1.12 / 1.2, rel=0.002)
    assert batched.binding is not None and batched.binding.component == "table"
    assert batched.plan.fits and batched.plan.monthly > 0
    assert not plan_stage(Stage(), batched.votes_per_s * 1.01, 100).fits


def test_a_stage_that_fits_no_rate_holds_nothing() -> None:
    slow = replace(Stage(), writer_memory=128, writer_batch_size=10_000, writer_timeout=1)
    h = holds(slow, 100)
    assert h.votes_per_s == 0 and h.binding is not None
    assert "full batch within half writer_timeout" in h.binding.limit


def test_the_function_url_alternative_reserves_its_receiver() -> None:
    """A Function URL is refused without receiver_reserved_concurrency, so the switch the plan
    prices reserves what the rate needs (10 invocations/s per concurrency) and fits only where
    the account has it."""
    small = plan_stage(Stage(), 1_000, 1)
    assert small.alternative is not None and small.alternative.fits
    large = plan_stage(Stage(), 40_000, 1)  # 4,000 reserved: over the account's 900
    assert large.alternative is not None and not large.alternative.fits


def test_benchmark_json_carries_the_classic_writer_figure() -> None:
    data: dict[str, dict[str, Any]] = {
        "receiver": {
            "memory_mb": 512,
            "votes_per_s_per_invocation": 100,
            "votes_per_s_per_invocation_batch_100": 5000,
        },
        "processor": {"memory_mb": 512, "votes_per_s_per_invocation": 20000},
        "writer": {"memory_mb": 1024, "votes_per_s_per_invocation": 5000},
    }
    assert MEASURED.from_benchmark(data).writer_classic == MEASURED.writer_classic
    data["writer"]["putitem"] = {"memory_mb": 512, "votes_per_s_per_invocation": 300}
    classic = MEASURED.from_benchmark(data).writer_classic
    assert (classic.memory_mb, classic.votes_per_s_per_invocation) == (512, 300)
