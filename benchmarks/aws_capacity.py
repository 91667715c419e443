"""Per-invocation capacity of the real handlers under Lambda's CPU share. Not a test.

    python benchmarks/aws_capacity.py [--runs 3] [--latency 0.004] [--receiver-memory MB]
        [--processor-memory MB] [--memory MB (both)] [--writer-memory 512,1024] [--json]

Each handler runs in its own process capped to the CPU share Lambda gives its memory
(memory/1769 of a core, through the CPU cgroup: v1 ``cpu.cfs_quota_us``, else v2 ``cpu.max``;
without either it runs uncapped and says so loudly). It is the real entry point
(``lambdas.<function>.handler``, clients built by the module) pointed at a stub endpoint on
127.0.0.1 (benchmarks/aws_stub.py) with ``AWS_ENDPOINT_URL``: DynamoDB and SQS answers after
``--latency`` seconds, a fraction of writes throttled as DynamoDB throttles them.

It prints, at the default stage's memory per function and batch sizes (votectl/config.py):
- votes/s per invocation of receiver (single-vote requests; and 100-vote batches), processor
  (a batch of 1,000 single-vote messages) and writer (a full batch: 100 ready messages of
  ``VOTES_PER_READY_MESSAGE`` votes, a tenth of them re-votes), for the writer on both write
  paths (PartiQL; classic, conditional UpdateItem), with the write units consumed per vote as
  the stub bills them (a refused INSERT costs a unit, as on AWS);
- the PartiQL path with its UPDATE refused as a ValidationError: the classic fallback's share;
- how long that full writer batch takes against the writer's timeout;
- with 33 % of writes throttled, a full batch redelivered as SQS would until nothing is left:
  write calls per vote, votes re-queued, messages returned whole, votes that would reach the
  DLQ, and whether every vote is stored as last-writer-wins says;
- the receiver against a stalled SQS: the status and how long it took to answer.
Medians over ``--runs``. ``--json`` prints the figures as one JSON object (the shape
`votectl plan` reads; see docs/sizing.md, "Capacity").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from aws_stub import Stub, StubSettings  # noqa: E402

from lambdas.contract import Vote, pack  # noqa: E402
from lambdas.envelope import VOTES_PER_READY_MESSAGE, pack_ready  # noqa: E402
from votectl.config import Stage  # noqa: E402

FULL_CORE_MB = 1769
TABLE = "votes"
VOTES_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/votes"
READY_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/ready"
# The default stage (votectl/config.py)
DEFAULT = Stage()
TIMEOUT = {f: getattr(DEFAULT, f"{f}_timeout") for f in ("receiver", "processor", "writer")}
PROCESSOR_BATCH, WRITER_BATCH = DEFAULT.processor_batch_size, DEFAULT.writer_batch_size
MAX_RECEIVE_COUNT = DEFAULT.max_receive_count
WRITER_MAX_CONCURRENCY = DEFAULT.writer_max_concurrency
GOAL_VOTES_PER_S = 40_000
GB_S_PRICE_ARM = 0.0000133334


# --- the CPU cap ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cap:
    procs: str | None  # the file a process writes its pid to, to join the group
    how: str


def cpu_cap(name: str, memory_mb: int) -> Cap:
    """A CPU cgroup allowing memory/1769 of one core; Cap(None, why) if none can be made."""
    share = min(1.0, memory_mb / FULL_CORE_MB)
    period = 20_000  # short: a 13 ms invocation cannot run on a whole 100 ms period's quota
    quota = int(period * share)
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        group = v1 / f"votectl-bench-{name}-{os.getpid()}"  # one per run: runs overlap
        try:
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(period))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
            return Cap(str(group / "cgroup.procs"), f"cgroup v1 {quota}/{period} us")
        except OSError as exc:
            return Cap(None, f"cgroup v1 refused: {exc}")
    v2 = Path("/sys/fs/cgroup")
    if (v2 / "cgroup.controllers").exists():
        group = v2 / f"votectl-bench-{name}-{os.getpid()}"
        try:
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{quota} {period}")
            return Cap(str(group / "cgroup.procs"), f"cgroup v2 cpu.max {quota} {period}")
        except OSError as exc:
            return Cap(None, f"cgroup v2 refused: {exc}")
    return Cap(None, "no CPU cgroup controller found")


# --- the child: one function, capped, invoked like Lambda does -------------------------


def child(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    if spec["procs"]:
        Path(spec["procs"]).write_text(str(os.getpid()))
    started = time.perf_counter()
    import importlib

    from lambdas.deadline import LocalContext

    module = importlib.import_module(f"lambdas.{spec['function']}")
    init = time.perf_counter() - started
    results = []
    for n, path in enumerate(spec["events"]):
        event = json.loads(Path(path).read_text())
        context = LocalContext(spec["timeout"], aws_request_id=f"inv-{n}")
        began = time.perf_counter()
        response = module.handler(event, context)
        results.append({"seconds": time.perf_counter() - began, "response": response})
    Path(spec["out"]).write_text(json.dumps({"init_seconds": init, "invocations": results}))


@dataclass(frozen=True)
class Sizes:
    """How much each scenario runs: the default stage's batches, or a quick smoke run."""

    requests: int = 300  # single-vote receiver requests per run (after 20 to warm up)
    batch_requests: int = 30  # 100-vote receiver requests per run
    processor_batches: int = 10  # back to back per run, so the CPU quota binds
    processor_batch: int = PROCESSOR_BATCH
    writer_messages: int = WRITER_BATCH
    classic_messages: int = 10


QUICK = Sizes(20, 3, 2, 100, 4, 1)


@dataclass
class Bench:
    stub: Stub
    url: str
    workdir: Path
    caps: list[str]
    sizes: Sizes = Sizes()

    def invoke(
        self, function: str, memory: int, events: list[Any], env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Run ``events`` one after another in one capped process (a warm container)."""
        cap = cpu_cap(f"{function}-{memory}", memory)
        self.caps.append(f"{function} {memory} MB: {cap.how}")
        paths = []
        for n, event in enumerate(events):
            path = self.workdir / f"{function}-{n}.json"
            path.write_text(json.dumps(event))
            paths.append(str(path))
        spec = self.workdir / "spec.json"
        out = self.workdir / "out.json"
        spec.write_text(
            json.dumps(
                {
                    "function": function,
                    "procs": cap.procs,
                    "timeout": TIMEOUT[function],
                    "events": paths,
                    "out": str(out),
                }
            )
        )
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "stub",
            "AWS_SECRET_ACCESS_KEY": "stub",
            "TABLE_NAME": TABLE,
            "TABLE_SHARDS": "10",
            "VOTES_QUEUE_URL": VOTES_URL,
            "READY_QUEUE_URL": READY_URL,
            **(env or {}),
        }
        try:
            subprocess.run(  # the handlers' log lines go to stderr, beside the report
                [sys.executable, __file__, "--child", str(spec)],
                env=environment,
                stdout=sys.stderr,
                check=True,
                timeout=600,
            )
        finally:
            if cap.procs:  # the group is empty once its process is gone
                Path(cap.procs).parent.rmdir()
        return dict(json.loads(out.read_text()))


# --- events -----------------------------------------------------------------------------

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def votes(prefix: str, n: int, at: datetime = T0, score: int | None = None) -> list[Vote]:
    return [
        Vote(f"{prefix}-{i}", f"title-{i % 97}", "overall", score or 1 + i % 5, at)
        for i in range(n)
    ]


def sqs_records(bodies: list[bytes], receive_count: list[int] | None = None) -> dict[str, Any]:
    records = []
    for i, body in enumerate(bodies):
        count = receive_count[i] if receive_count else 1
        records.append(
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": body.decode(),
                "attributes": {"ApproximateReceiveCount": str(count), "SentTimestamp": "0"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
        )
    return {"Records": records}


def http_event(body: bytes, n: int) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /votes",
        "rawPath": "/votes",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/votes"}, "requestId": f"req-{n}"},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def ready_batch(
    stub: Stub, prefix: str, messages: int = WRITER_BATCH
) -> tuple[list[bytes], list[Vote]]:
    """A full writer batch of ``messages`` ready messages. A tenth of its identities are in the
    table already with an older vote (re-votes: the UPDATE path), the rest are new."""
    from lambdas.adapters import partition_key, sort_key
    from lambdas.contract import stored_voted_at

    fresh = votes(prefix, messages * VOTES_PER_READY_MESSAGE)
    older = stored_voted_at(T0 - timedelta(minutes=5))
    for v in fresh[::10]:
        pk, sk = partition_key(v.title_id, v.user_id, 10), sort_key(v.aspect, v.user_id)
        stub.items[(pk, sk)] = {"pk": pk, "sk": sk, "score": "1", "voted_at": older}
    items = [(v, [f"req-{i // 10}"]) for i, v in enumerate(fresh)]
    return pack_ready(items, 256 * 1024), fresh


# --- scenarios --------------------------------------------------------------------------


def receiver(bench: Bench, memory: int, runs: int) -> dict[str, Any]:
    single, batch = [], []
    for run in range(runs):
        one = [
            http_event(json.dumps(_raw(votes(f"r{run}-{n}", 1)[0])).encode(), n)
            for n in range(bench.sizes.requests)
        ]
        hundred = [
            http_event(
                json.dumps({"votes": [_raw(v) for v in votes(f"b{run}-{n}", 100)]}).encode(), n
            )
            for n in range(bench.sizes.batch_requests)
        ]
        out = bench.invoke("receiver", memory, one[:20] + one + hundred)
        seconds = [i["seconds"] for i in out["invocations"]]
        bad = [i["response"] for i in out["invocations"] if i["response"]["statusCode"] != 202]
        assert not bad, bad[:1]
        single.append(len(one) / sum(seconds[20 : 20 + len(one)]))
        batch.append(100 * len(hundred) / sum(seconds[20 + len(one) :]))
    return {
        "memory_mb": memory,
        "votes_per_s_per_invocation": round(statistics.median(single)),
        "requests_per_s_per_invocation": round(statistics.median(single)),
        "votes_per_s_per_invocation_batch_100": round(statistics.median(batch)),
    }


def _raw(vote: Vote) -> dict[str, Any]:
    return {
        "user_id": vote.user_id,
        "title_id": vote.title_id,
        "aspect": vote.aspect,
        "score": vote.score,
    }


def processor(bench: Bench, memory: int, runs: int) -> dict[str, Any]:
    rates, inits = [], []
    per_run, size = bench.sizes.processor_batches, bench.sizes.processor_batch
    for run in range(runs):
        events = []
        for k in range(per_run + 1):
            bodies = [pack(votes(f"p{run}-{k}-{n}", 1), f"req-{n}")[0] for n in range(size)]
            events.append(sqs_records(bodies))
        out = bench.invoke("processor", memory, events)
        assert all(i["response"] == {"batchItemFailures": []} for i in out["invocations"])
        warm = sum(i["seconds"] for i in out["invocations"][1:])
        rates.append(size * per_run / warm)
        inits.append(out["init_seconds"])
    rate = statistics.median(rates)
    return {
        "memory_mb": memory,
        "votes_per_s_per_invocation": round(rate),
        "batch_seconds": round(size / rate, 3),
        "batch_messages": size,
        "init_seconds": round(statistics.median(inits), 3),
    }


def writer(bench: Bench, memory: int, runs: int, path: str, messages: int) -> dict[str, Any]:
    rates, seconds, calls, units = [], [], [], []
    for run in range(runs):
        bench.stub.reset()
        bodies, sent = ready_batch(bench.stub, f"w{memory}{path}{run}", messages)
        out = bench.invoke("writer", memory, [sqs_records(bodies)], {"WRITE_PATH": path})
        [inv] = out["invocations"]
        assert inv["response"] == {"batchItemFailures": []}, inv["response"]
        assert not bench.stub.messages.get(READY_URL)
        n = len(sent)
        seconds.append(inv["seconds"])
        rates.append(n / inv["seconds"])
        calls.append(bench.stub.calls[_write_op(path)] / n)
        units.append(bench.stub.calls["write_units"] / n)
    rate = statistics.median(rates)
    return {
        "memory_mb": memory,
        "write_path": path,
        "votes_per_batch": messages * VOTES_PER_READY_MESSAGE,
        "votes_per_s_per_invocation": round(rate),
        "batch_seconds": round(statistics.median(seconds), 2),
        "timeout_seconds": TIMEOUT["writer"],
        "write_calls_per_vote": round(statistics.median(calls), 4),
        "write_units_per_vote": round(statistics.median(units), 4),
        "gb_s_per_million_votes": round(memory / 1024 / rate * 1e6, 1),
        "fleet_votes_per_s": round(rate * WRITER_MAX_CONCURRENCY),
    }


def _write_op(path: str) -> str:
    return "BatchExecuteStatement" if path == "partiql" else "UpdateItem"


def fallback(bench: Bench, memory: int, messages: int) -> dict[str, Any]:
    """The PartiQL path when DynamoDB refuses its UPDATE (a ValidationError): the re-votes
    fall back to UpdateItem; nothing may be lost, re-queued or returned."""
    bench.stub.reset()
    bench.stub.settings.refuse = "UPDATE"
    try:
        bodies, sent = ready_batch(bench.stub, f"f{memory}", messages)
        out = bench.invoke("writer", memory, [sqs_records(bodies)], {"WRITE_PATH": "partiql"})
    finally:
        bench.stub.settings.refuse = ""
    [inv] = out["invocations"]
    n = len(sent)
    classic = sum(1 for item in bench.stub.items.values() if item.get("write_path") == "classic")
    return {
        "votes": n,
        "returned_messages": len(inv["response"]["batchItemFailures"]),
        "requeued_messages": len(bench.stub.messages.get(READY_URL, [])),
        "votes_written_classic": classic,
        "write_units_per_vote": round(bench.stub.calls["write_units"] / n, 4),
        "votes_per_s_per_invocation": round(n / inv["seconds"]),
        "lost": lost(bench.stub, sent),
    }


def throttled(bench: Bench, memory: int, fraction: float) -> dict[str, Any]:
    """A full batch with ``fraction`` of writes throttled, redelivered until nothing is left:
    re-queued messages come back as new messages, returned ones with a higher receive count."""
    bench.stub.reset()
    bench.stub.settings.throttle = fraction
    bodies, sent = ready_batch(bench.stub, f"t{memory}", bench.sizes.writer_messages)
    counts = [1] * len(bodies)
    invocations = returned = requeued_messages = dlq_votes = 0
    requeued_votes = 0
    seconds = []
    try:
        while bodies:
            out = bench.invoke("writer", memory, [sqs_records(bodies, counts)])
            [inv] = out["invocations"]
            invocations += 1
            seconds.append(inv["seconds"])
            back = {f["itemIdentifier"] for f in inv["response"]["batchItemFailures"]}
            again = [
                (b, c + 1)
                for i, (b, c) in enumerate(zip(bodies, counts, strict=True))
                if f"m-{i}" in back
            ]
            returned += len(again)
            dlq = [b for b, c in again if c > MAX_RECEIVE_COUNT]
            dlq_votes += sum(len(json.loads(b)["votes"]) for b in dlq)
            again = [(b, c) for b, c in again if c <= MAX_RECEIVE_COUNT]
            fresh = [m.encode() for m in bench.stub.messages.pop(READY_URL, [])]
            requeued_messages += len(fresh)
            requeued_votes += sum(len(json.loads(b)["votes"]) for b in fresh)
            bodies = [b for b, _ in again] + fresh
            counts = [c for _, c in again] + [1] * len(fresh)
    finally:
        bench.stub.settings.throttle = 0.0
    return {
        "throttled_fraction": fraction,
        "votes": len(sent),
        "invocations": invocations,
        "first_batch_seconds": round(seconds[0], 2),
        "write_calls_per_vote": round(bench.stub.calls["BatchExecuteStatement"] / len(sent), 4),
        "statements_per_vote": round(bench.stub.calls["statements"] / len(sent), 3),
        "write_units_per_vote": round(bench.stub.calls["write_units"] / len(sent), 4),
        "votes_requeued": requeued_votes,
        "messages_requeued": requeued_messages,
        "messages_returned_whole": returned,
        "votes_to_dlq": dlq_votes,
        "lost": lost(bench.stub, sent),
    }


def lost(stub: Stub, sent: list[Vote]) -> int:
    """Identities whose stored vote is not the greatest (voted_at, score) sent."""
    from lambdas.adapters import partition_key, sort_key
    from lambdas.contract import stored_voted_at

    best: dict[tuple[str, str], tuple[str, int]] = {}
    for v in sent:
        key = (partition_key(v.title_id, v.user_id, 10), sort_key(v.aspect, v.user_id))
        best[key] = max(best.get(key, ("", 0)), (stored_voted_at(v.voted_at), v.score))
    return sum(
        1
        for key, want in best.items()
        if key not in stub.items
        or (stub.items[key]["voted_at"], int(stub.items[key]["score"])) != want
    )


def stalled_receiver(bench: Bench, memory: int) -> dict[str, Any]:
    bench.stub.settings.sqs_stall = 30.0
    try:
        out = bench.invoke(
            "receiver", memory, [http_event(json.dumps(_raw(votes("s", 1)[0])).encode(), 0)]
        )
    finally:
        bench.stub.settings.sqs_stall = 0.0
    [inv] = out["invocations"]
    body = json.loads(inv["response"]["body"])
    return {
        "status": inv["response"]["statusCode"],
        "json_error": "error" in body,
        "seconds": round(inv["seconds"], 2),
        "timeout_seconds": TIMEOUT["receiver"],
    }


# --- main ---------------------------------------------------------------------------------


@contextmanager
def running_stub(latency: float) -> Iterator[tuple[Stub, str]]:
    stub = Stub(StubSettings(latency=latency))
    url = stub.start()
    try:
        yield stub, url
    finally:
        stub.stop()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.004)
    parser.add_argument("--memory", type=int, help="receiver and processor MB (both)")
    parser.add_argument("--receiver-memory", type=int, default=DEFAULT.receiver_memory)
    parser.add_argument("--processor-memory", type=int, default=DEFAULT.processor_memory)
    parser.add_argument(
        "--writer-memory", default=str(DEFAULT.writer_memory), help="comma-separated MB values"
    )
    parser.add_argument("--throttle", type=float, default=0.33)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: small batches, one run (the tests')"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
    if args.memory:
        args.receiver_memory = args.processor_memory = args.memory
    writer_memories = [int(m) for m in args.writer_memory.split(",")]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, running_stub(args.latency) as (stub, url):
        bench = Bench(stub, url, Path(tmp), [], QUICK if args.quick else Sizes())
        figures["receiver"] = receiver(bench, args.receiver_memory, args.runs)
        figures["processor"] = processor(bench, args.processor_memory, args.runs)
        messages = bench.sizes.writer_messages
        sweep = [writer(bench, m, args.runs, "partiql", messages) for m in writer_memories]
        figures["writer"] = {**sweep[0], "by_memory": sweep}
        figures["writer"]["classic"] = writer(
            bench, writer_memories[0], args.runs, "classic", bench.sizes.classic_messages
        )
        figures["writer"]["fallback"] = fallback(
            bench, writer_memories[0], bench.sizes.classic_messages
        )
        figures["writer"]["throttled"] = throttled(bench, writer_memories[0], args.throttle)
        figures["receiver"]["stalled_sqs"] = stalled_receiver(bench, args.receiver_memory)
        figures["latency_ms"] = args.latency * 1000
        figures["cpu_cap"] = sorted(set(bench.caps))
        figures["command"] = "python " + " ".join(["benchmarks/aws_capacity.py", *sys.argv[1:]])
        figures["date"] = datetime.now(UTC).date().isoformat()
    if not all("cgroup" in c and "refused" not in c for c in figures["cpu_cap"]):
        print("WARNING: NO CPU CAP: figures are a full core's, not Lambda's", file=sys.stderr)
    if args.json:  # the figures on stdout, the report for people on stderr
        print(json.dumps(figures, indent=2))
        report(figures, sys.stderr)
    else:
        report(figures, sys.stdout)


def report(f: dict[str, Any], out: Any) -> None:
    def say(text: str) -> None:
        print(text, file=out)

    r, p, w = f["receiver"], f["processor"], f["writer"]
    t, s, pi, fb = w["throttled"], r["stalled_sqs"], w["classic"], w["fallback"]
    say(f"stub latency {f['latency_ms']:.1f} ms; CPU caps: {'; '.join(f['cpu_cap'])}")
    say(
        f"receiver  {r['memory_mb']} MB: {r['votes_per_s_per_invocation']} votes/s per "
        f"invocation (single votes), {r['votes_per_s_per_invocation_batch_100']} with "
        "100-vote requests"
    )
    say(
        f"processor {p['memory_mb']} MB: {p['votes_per_s_per_invocation']} votes/s per "
        f"invocation ({p['batch_messages']} single-vote messages in {p['batch_seconds']} s)"
    )
    for row in w["by_memory"]:
        goal = "meets" if row["fleet_votes_per_s"] >= GOAL_VOTES_PER_S else "MISSES"
        say(
            f"writer    {row['memory_mb']} MB (PartiQL): {row['votes_per_s_per_invocation']} "
            f"votes/s per invocation; a full batch ({row['votes_per_batch']} votes) in "
            f"{row['batch_seconds']} s of its {row['timeout_seconds']} s timeout; "
            f"{row['write_calls_per_vote']} write calls/vote, {row['write_units_per_vote']} "
            f"write units/vote; x{WRITER_MAX_CONCURRENCY} = "
            f"{row['fleet_votes_per_s']} votes/s ({goal} {GOAL_VOTES_PER_S}); "
            f"{row['gb_s_per_million_votes']} GB-s per million votes "
            f"(${row['gb_s_per_million_votes'] * GB_S_PRICE_ARM:.4f} on arm64)"
        )
    say(
        f"writer    {pi['memory_mb']} MB (classic, conditional UpdateItem): "
        f"{pi['votes_per_s_per_invocation']} votes/s per invocation; "
        f"{pi['write_calls_per_vote']} write calls/vote, {pi['write_units_per_vote']} write "
        f"units/vote; {pi['gb_s_per_million_votes']} GB-s per million votes"
    )
    say(
        f"writer, PartiQL UPDATE refused (ValidationError): {fb['votes_written_classic']} of "
        f"{fb['votes']} votes written by the classic fallback, {fb['write_units_per_vote']} "
        f"write units/vote, {fb['requeued_messages']} messages re-queued, "
        f"{fb['returned_messages']} returned, {fb['lost']} lost"
    )
    say(
        f"writer, {t['throttled_fraction']:.0%} of writes throttled: "
        f"{t['write_calls_per_vote']} write calls/vote ({t['statements_per_vote']} statements), "
        f"{t['votes_requeued']} votes re-queued in {t['messages_requeued']} messages, "
        f"{t['messages_returned_whole']} messages returned whole, {t['votes_to_dlq']} votes "
        f"to the DLQ, {t['lost']} lost; first batch {t['first_batch_seconds']} s, "
        f"{t['invocations']} invocations"
    )
    say(
        f"receiver, SQS stalled: {s['status']} (JSON error: {s['json_error']}) in "
        f"{s['seconds']} s of its {s['timeout_seconds']} s timeout"
    )


if __name__ == "__main__":
    main()
