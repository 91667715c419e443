"""`votectl plan`'s model on figures small enough to check by hand, and on the default stage."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from loadtests._traffic import Zipf
from votectl.config import Stage
from votectl.plan import Settings, build_plan, cost_line, parse_rate, plan_stage
from votectl.plan.cost import ACCESS_LOG_BYTES, GIB, SECONDS_PER_MONTH
from votectl.plan.flow import RESPONSE_BYTES
from votectl.plan.measured import MEASURED, FunctionFigures, Measured
from votectl.plan.model import COMPONENTS, SCHEMA
from votectl.plan.prices import PRICES
from votectl.plan.zipf import top_share

# One vCPU each, 1,000 votes/s per invocation, no fixed overhead, no logs: durations are
# votes / 1,000 s, and concurrency is votes/s / 1,000.
FLAT = FunctionFigures(1769, 1000.0, 0.0, 0)
SIMPLE = replace(
    MEASURED,
    receiver=FLAT,
    processor=FLAT,
    writer=FLAT,
    vote_bytes=100,
    ready_message_votes=100,
    estimate=False,
)
ONE_CPU = Settings(receiver_memory=1769, processor_memory=1769, writer_memory=1769)


def simple(votes_per_s: float = 1000, batch: int = 10, **settings: object) -> object:
    """A plan with no re-votes nor redeliveries: one write unit a vote."""
    return build_plan(
        replace(ONE_CPU, **settings),
        votes_per_s,
        batch,
        measured=SIMPLE,
        revote_share=0.0,
        redelivery_share=0.0,
    )


def test_the_flow_by_hand() -> None:
    plan = simple(1000, 10)
    f = plan.flow
    assert f.requests_per_s == 100
    # receiver: 100 requests/s, 10 votes each at 1,000 votes/s = 10 ms -> 1 concurrent
    assert f.receiver.invocations_per_s == 100
    assert f.receiver.duration_ms == pytest.approx(10)
    assert f.receiver.concurrency == pytest.approx(1.0)
    # votes queue: one 45 + 10 x 100 byte message per request; 1 billed send each;
    # receives of 10 (10.2 KiB: one 64 KiB chunk) and deletes of 10: 100 + 10 + 10
    q = f.votes_queue
    assert (q.messages_per_s, q.message_bytes) == (100, 1045)
    assert (q.send_requests_per_s, q.receive_requests_per_s, q.delete_requests_per_s) == (
        100,
        10,
        10,
    )
    # processor: a 1 s window gathers 100 records (1,000 votes): 1 invocation/s of 1 s
    assert f.processor.invocations_per_s == pytest.approx(1)
    assert f.processor.votes_per_invocation == pytest.approx(1000)
    assert f.processor.concurrency == pytest.approx(1.0)
    # ready queue: 10 messages of 100 votes per processor invocation
    assert f.ready_queue.messages_per_s == pytest.approx(10)
    assert f.ready_queue.message_bytes == pytest.approx(45 + 100 * 100)
    # writer: the window gathers those 10 messages: 1 invocation/s of 1,000 votes, 1 s
    assert f.writer.invocations_per_s == pytest.approx(1)
    assert f.writer.concurrency == pytest.approx(1.0)
    assert f.write_units_per_s == 1000  # one WRU per vote: no re-votes, no redeliveries
    # in flight: a poller holds messages while its batch fills (1 s), then for the invocation
    assert f.votes_queue.in_flight == pytest.approx(100 * (1 + 1))
    assert f.ready_queue.in_flight == pytest.approx(10 * (1 + 1))
    assert f.hot_key_units_per_s == pytest.approx(1000 * top_share() / 10)


def test_sqs_bills_64_kib_chunks() -> None:
    # 500 votes of 200 bytes = 100 KB a message: 2 chunks to send, a receive of 10 = 16 chunks
    m = replace(SIMPLE, vote_bytes=200)
    q = build_plan(ONE_CPU, 500, 500, measured=m).flow.votes_queue
    assert q.send_requests_per_s == pytest.approx(1 * 2)
    assert q.receive_requests_per_s == pytest.approx(0.1 * math.ceil(10 * 100_045 / 65536))


def test_costs_by_hand() -> None:
    plan = simple(1000, 10)
    by = {c.name: c.cost for c in plan.components}
    writes = by["table"].parts["writes"]
    assert writes == pytest.approx(1000 * 0.625e-6)
    assert writes * SECONDS_PER_MONTH == pytest.approx(1000 * 0.625e-6 * 730 * 3600)
    # storage and PITR of a month's items: 1,000 new items/s of 100 + 100 bytes
    gb = 1000 * SECONDS_PER_MONTH * 200 / GIB
    assert by["table"].parts["storage"] * SECONDS_PER_MONTH == pytest.approx(gb * 0.25)
    assert by["table"].parts["backups (PITR)"] * SECONDS_PER_MONTH == pytest.approx(gb * 0.20)
    assert "KMS key" not in by["table"].parts  # the AWS-owned key costs nothing
    # answers out: 100 requests/s x 250 bytes at $0.09/GB
    out = 100 * RESPONSE_BYTES / GIB * 0.09
    api = 100 * 1.00e-6 + 100 * ACCESS_LOG_BYTES / GIB * 0.50 + out
    assert by["api"].usd_per_s == pytest.approx(api)
    receiver = 100 * 0.20e-6 + 100 * 0.010 * 1769 / 1024 * 0.0000133334
    assert by["receiver"].usd_per_s == pytest.approx(receiver)
    assert by["votes queue"].usd_per_s == pytest.approx(120 * 0.40e-6)
    assert plan.monthly == pytest.approx(sum(c.usd_per_s for c in by.values()) * SECONDS_PER_MONTH)
    x86 = simple(1000, 10, architecture="x86_64")
    assert {c.name: c.cost for c in x86.components}["receiver"].usd_per_s > receiver


def test_a_function_url_drops_the_gateway_and_its_cost() -> None:
    http = simple(1000, 10)
    url = simple(1000, 10, front_door="function-url")
    api = {c.name: c for c in url.components}["api"]
    assert api.checks == () and set(api.cost.parts) == {"responses out"}  # data out only
    assert http.alternative is not None and http.alternative.front_door == "function-url"
    http_api = {c.name: c.cost for c in http.components}["api"]
    assert http.monthly - http.alternative.monthly == pytest.approx(
        http_api.monthly - api.cost.monthly
    )


def test_40k_votes_in_batches_count_revotes_and_name_the_quota_raise() -> None:
    """Issue 17: 1.12 units a vote (10 % re-votes, 1 % redeliveries) at 40,000 votes/s is
    44,800 WRU/s, over the 40,000 quota; with 20 % headroom the raise is to 53,760."""
    plan = plan_stage(Stage(), 40_000, 100)
    assert plan.flow.write_units.per_vote == pytest.approx(1.12)
    assert plan.flow.write_units_per_s == pytest.approx(44_800)
    assert not plan.fits
    assert plan.binding is not None and plan.binding.component == "table"
    assert plan.binding.limit == "table write quota (per table)"
    assert plan.binding.margin == 1.2
    assert any(
        "table-level write throughput quota increase to 53,760 WRU/s" in fix
        and "table_write_quota = 53,760" in fix
        for fix in plan.fixes
    )
    # raised as the fix says, it fits with the headroom kept
    raised = plan_stage(
        replace(Stage(), table_write_quota=53_760, table_warm_write_units=53_760), 40_000, 100
    )
    assert raised.fits, raised.fixes
    table = [c for c in raised.checks if c.component == "table" and c.margin > 1]
    assert table and all(c.headroom >= 1.2 - 1e-9 for c in table)


def test_29k_votes_fit_the_default_quota_with_20_percent_headroom() -> None:
    plan = plan_stage(Stage(), 29_000, 100)
    assert plan.fits, plan.fixes
    assert plan.binding is not None and plan.binding.headroom >= 1.2
    assert not plan_stage(Stage(), 30_000, 100).fits  # 33,600 x 1.2 > 40,000


def test_single_votes_at_40k_meet_the_api_quota_first() -> None:
    plan = plan_stage(Stage(), 40_000, 1)
    assert not plan.fits
    assert plan.binding is not None
    assert (plan.binding.component, plan.binding.value) == ("api", 10_000)
    assert "API Gateway" in plan.binding.limit
    assert plan.binding.max_votes_per_s(40_000) == pytest.approx(10_000)
    assert any("API Gateway throttle quota increase" in fix for fix in plan.fixes)
    # the stage's own throttle (5,000) binds even earlier, and is named as a setting
    assert plan.binding_setting is not None
    assert plan.binding_setting.limit == "stage throttle_rate"
    assert "raise throttle_rate to 40,000" in plan.fixes


def test_a_function_url_meets_the_lambda_invocation_quota_instead() -> None:
    plan = plan_stage(replace(Stage(), front_door="function-url"), 40_000, 1)
    assert plan.binding is not None
    assert (plan.binding.component, plan.binding.value) == ("receiver", 10_000)
    assert plan.binding.limit.startswith("Lambda invocations")


def test_a_short_writer_fleet_names_its_setting_with_the_number_needed() -> None:
    plan = plan_stage(replace(Stage(), writer_max_concurrency=5), 40_000, 100)
    w, votes = MEASURED.writer, MEASURED.ready_message_votes
    # 160 ready messages/s; a 1 s window gathers a full batch of 100: 1.6 invocations/s
    batch = 100 * votes
    invocations = 40_000 / batch
    need = invocations * (w.overhead_ms / 1000 + batch / w.votes_per_s(Stage().writer_memory))
    assert plan.flow.writer.concurrency == pytest.approx(need)
    assert not plan.fits
    assert f"raise writer_max_concurrency to {math.ceil(need)}" in plan.fixes


def test_a_batch_longer_than_half_the_timeout_is_named() -> None:
    plan = plan_stage(replace(Stage(), writer_memory=256), 1_000, 100)
    writer = {c.name: c for c in plan.components}["writer"]
    timeout = next(c for c in writer.checks if "timeout" in c.limit)
    w, votes = MEASURED.writer, MEASURED.ready_message_votes
    rate = w.votes_per_s_per_invocation * 256 / w.memory_mb  # CPU share of 256 MB
    assert timeout.need == pytest.approx(w.overhead_ms / 1000 + 100 * votes / rate)
    assert not timeout.fits and timeout.value == 15
    fits = math.floor((15_000 - w.overhead_ms) * rate / 1000 / votes)
    assert f"lower writer_batch_size to {fits}, or raise writer_memory" in plan.fixes


def test_benchmark_figures_replace_the_estimates() -> None:
    # the shape benchmarks/aws_capacity.py --json prints (branch lambdas)
    data = {
        "receiver": {
            "memory_mb": 256,
            "votes_per_s_per_invocation": 100,  # 10 ms a single-vote request
            "votes_per_s_per_invocation_batch_100": 5000,  # 20 ms a 100-vote request
        },
        "processor": {"memory_mb": 512, "votes_per_s_per_invocation": 20000},
        "writer": {
            "memory_mb": 512,
            "votes_per_s_per_invocation": 700,
            "write_calls_per_vote": 0.05,
        },
        "command": "python benchmarks/aws_capacity.py --json",
        "date": "2026-11-28",
    }
    m = MEASURED.from_benchmark(data)
    assert not m.estimate and m.date == "2026-11-28"
    # 10 ms = o + 1/v, 20 ms = o + 100/v: v = 9,900 votes/s, o = 9.9 ms
    assert m.receiver.votes_per_s_per_invocation == pytest.approx(9900)
    assert m.receiver.overhead_ms == pytest.approx(10 - 1000 / 9900)
    assert (m.writer.memory_mb, m.writer.votes_per_s_per_invocation) == (512, 700)
    assert m.write_calls_per_vote == 0.05
    with pytest.raises(KeyError):
        MEASURED.from_benchmark({"receiver": {}})


def test_the_ready_message_bound_is_the_writers() -> None:
    envelope = pytest.importorskip("lambdas.envelope")  # branch lambdas owns the bound
    assert MEASURED.ready_message_votes == envelope.VOTES_PER_READY_MESSAGE


def test_table_limits_warm_throughput_cap_and_hot_partition() -> None:
    # 20,000 votes/s x 1.12 units = 22,400 WRU/s, planned with 20 % headroom: 26,880
    cold = plan_stage(replace(Stage(), table_warm_write_units=0), 20_000, 100)
    assert cold.binding is not None and cold.binding.value == 4_000
    assert "set table_warm_write_units = 26,880" in cold.fixes
    capped = plan_stage(
        replace(Stage(), table_max_write_units=10_000, table_warm_write_units=10_000),
        20_000,
        100,
    )
    assert "raise table_max_write_units to 26,880 (or 0: no cap)" in capped.fixes
    hot = plan_stage(replace(Stage(), table_shards=2), 20_000, 100)
    key = 20_000 * 1.12 * top_share() / 2
    assert hot.flow.hot_key_units_per_s == pytest.approx(key)
    assert any(
        fix.startswith(f"raise table_shards to {math.ceil(key * 2 / 1000)}") for fix in hot.fixes
    )


def test_reserved_concurrency_bounds_the_receiver_and_its_invocations() -> None:
    plan = plan_stage(replace(Stage(), receiver_reserved_concurrency=100), 20_000, 1)
    receiver = {c.name: c for c in plan.components}["receiver"]
    limits = {c.limit: c for c in receiver.checks}
    assert limits["receiver_reserved_concurrency"].value == 100
    assert limits["Lambda invocations (10/s per concurrency)"].value == 1_000
    assert any(f.startswith("raise receiver_reserved_concurrency to 2,000") for f in plan.fixes)
    too_many = plan_stage(replace(Stage(), writer_reserved_concurrency=950), 1_000, 100)
    assert any("reserved concurrency in total" in c.limit and not c.fits for c in too_many.checks)


def test_the_account_concurrency_pool_is_shared() -> None:
    """The consumers reserve their MaximumConcurrency (20 each) by default: the receiver
    shares what is left of the account's 1,000, or a raised account_concurrency."""
    plan = plan_stage(replace(Stage(), receiver_memory=128), 10_000, 1)
    pool = [c for c in plan.checks if c.limit == "Lambda concurrency (Region, shared)"]
    assert [c.component for c in pool] == ["receiver"]
    assert pool[0].value == pytest.approx(1_000 - 20 - 20)
    raised = plan_stage(replace(Stage(), account_concurrency=3_000), 10_000, 1)
    pool = [c for c in raised.checks if c.limit == "Lambda concurrency (Region, shared)"]
    assert pool[0].value == pytest.approx(3_000 - 40)


def test_ramp_from_idle() -> None:
    plan = plan_stage(Stage(), 40_000, 100)
    ramp = plan.ramp_seconds
    assert ramp["writer"] == pytest.approx((plan.flow.writer.concurrency - 5) / 300 * 60)
    assert ramp["processor"] == 0  # under the 5 concurrent batches a mapping starts with
    assert ramp["receiver"] == pytest.approx(plan.flow.receiver.concurrency / 100)


def test_top_share_matches_the_loadtests_sampler() -> None:
    assert top_share(10_000, 1.1) == pytest.approx(Zipf(10_000, 1.1).probability(1))
    assert top_share(10_000, 1.1) == pytest.approx(0.1514, abs=1e-4)
    assert top_share(4, 0.0) == 0.25
    assert top_share(1, 2.0) == 1.0
    with pytest.raises(ValueError):
        top_share(0, 1.1)


@pytest.mark.parametrize(
    "text,rate",
    [
        ("20000", 20_000),
        ("20000/s", 20_000),
        ("20k/s", 20_000),
        ("1.2M/min", 20_000),
        ("72M/h", 20_000),
        (" 40000 / s ", 40_000),
        (".5k", 500),
    ],
)
def test_rates(text: str, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["", "fast", "-5/s", "0", "0/s", "20000/day", "1e5", "20 000"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_the_json_schema_is_stable() -> None:
    data = plan_stage(Stage(), 40_000, 100).to_json()
    assert data["schema"] == SCHEMA
    assert set(data) == {
        "schema",
        "stage",
        "front_door",
        "votes_per_s",
        "batch_size",
        "requests_per_s",
        "write_units",
        "fits",
        "binding",
        "binding_setting",
        "fixes",
        "components",
        "cost",
        "ramp_seconds",
        "popularity",
        "settings",
        "measured",
        "prices",
    }
    assert [c["name"] for c in data["components"]] == list(COMPONENTS)
    for comp in data["components"]:
        assert set(comp) == {"name", "needs", "limits", "cost"}
        assert set(comp["cost"]) == {"monthly_usd", "per_million_votes_usd", "monthly_by_item_usd"}
        for limit in comp["limits"]:
            assert set(limit) == {
                "limit",
                "kind",
                "unit",
                "need",
                "value",
                "headroom",
                "headroom_required",
                "fits",
                "max_votes_per_s",
                "fix",
                "source",
            }
            assert limit["kind"] in ("quota", "setting")
            assert limit["source"].startswith("https://docs.aws.amazon.com/")
    assert set(data["cost"]) == {
        "monthly_usd",
        "per_million_votes_usd",
        "switch",
        "write_paths",
        "cheaper_write_path",
    }
    assert [w["write_path"] for w in data["cost"]["write_paths"]] == ["partiql", "classic"]
    assert data["write_units"]["per_vote"] == pytest.approx(1.12)
    assert data["prices"]["checked"] == PRICES.checked and data["prices"]["sources"]
    assert data["measured"]["command"].startswith("python benchmarks/aws_capacity.py")
    total = sum(c["cost"]["monthly_usd"] for c in data["components"])
    assert data["cost"]["monthly_usd"] == pytest.approx(total, abs=0.05)


def test_cost_line_for_deploy() -> None:
    line = cost_line(Stage(name="dev"))
    assert "per million votes" in line and "$" in line
    assert "\n" not in line
    # what the stage holds, not a failure at a rate it was never sized for
    assert line.startswith("plan: stage dev holds 4,999 votes/s in 1-vote requests")
    assert "in 100-vote requests" in line and "does not fit" not in line


def test_measured_figures_say_where_they_come_from() -> None:
    m: Measured = MEASURED
    assert m.command and m.date
    assert m.writer.votes_per_s(m.writer.memory_mb) == m.writer.votes_per_s_per_invocation
    assert m.writer.votes_per_s(3538) == m.writer.votes_per_s(1769)  # one thread, one vCPU
