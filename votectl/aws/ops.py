"""The operations on an AWS stage: queue stats, table count, results and redrive.

Resources are found by logical id in the stage's stack. Redrive uses SQS message move tasks;
an endpoint that says it has no such action (moto, some emulators) gets receive/send/delete,
bounded like a move task to the messages in the DLQ when it started.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from typing import Any

from botocore.exceptions import ClientError

from lambdas.adapters import DynamoVoteTable
from lambdas.metrics import NAMESPACE
from votectl.aws.canary import AwsProbe
from votectl.aws.fallback import BoundedMove, release
from votectl.aws.logs import CloudWatchLogs
from votectl.aws.session import Aws, aws_errors, no_such_action
from votectl.aws.stack import FUNCTIONS, QUEUES, DeployedStack, read_stack
from votectl.config import Stage
from votectl.errors import AwsError, UsageError
from votectl.logevents import LogEvent, LogQuery
from votectl.model import Pulse, QueueMove, QueueStat, RedriveResult, Results, TableCount
from votectl.operations import Progress
from votectl.peek import PeekedMessage, peeked

__all__ = ["AwsOperations", "FunctionInfo", "StackReport"]

MAX_MOVE_RATE = 500
SCAN_SEGMENTS = 8
_PEEK_ATTRIBUTES = ["ApproximateReceiveCount", "SentTimestamp"]
_FINISHED = {"COMPLETED", "CANCELLED", "FAILED"}


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    function_name: str
    runtime: str
    architecture: str
    code_sha256: str  # hex, comparable with `votectl bundle`
    last_modified: str


@dataclass(frozen=True)
class StackReport:
    """What `votectl status` shows."""

    stack: str
    status: str
    region: str
    endpoint_url: str | None
    outputs: dict[str, str | None]
    functions: list[FunctionInfo]
    queues: list[QueueStat]
    table: TableCount

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class MoveTasksUnsupported(Exception):
    """The endpoint has no StartMessageMoveTask; fall back to receive/send/delete."""


class AwsOperations:
    def __init__(
        self,
        stage: Stage,
        aws: Aws | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 2.0,
    ) -> None:
        self.stage = stage
        self.aws = aws or Aws(stage)
        self._sleep = sleep
        self._poll_seconds = poll_seconds

    @cached_property
    def stack(self) -> DeployedStack:
        return read_stack(self.aws)

    @property
    def sqs(self) -> Any:
        return self.aws.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return self.aws.client("dynamodb")

    def _queue_url(self, name: str) -> str:
        return self.stack.physical(QUEUES[name][0])

    def _queue_arn(self, url: str) -> str:
        with aws_errors("reading a queue's ARN", self.stage):
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    @property
    def _table(self) -> str:
        return self.stack.physical("VotesTable")

    # --- status -----------------------------------------------------------------------

    def status(self) -> StackReport:
        lam = self.aws.client("lambda")
        functions = []
        for name, logical in FUNCTIONS.items():
            with aws_errors(f"reading function {name}", self.stage):
                conf = lam.get_function_configuration(FunctionName=self.stack.physical(logical))
            functions.append(
                FunctionInfo(
                    name=name,
                    function_name=conf["FunctionName"],
                    runtime=conf.get("Runtime", ""),
                    architecture=",".join(conf.get("Architectures", [])),
                    code_sha256=base64.b64decode(conf["CodeSha256"]).hex(),
                    last_modified=str(conf.get("LastModified", "")),
                )
            )
        return StackReport(
            stack=self.stack.name,
            status=self.stack.status,
            region=self.stack.region,
            endpoint_url=self.stack.endpoint_url(),
            outputs=self.stack.output_values(),
            functions=functions,
            queues=self.queue_stats(),
            table=self.table_count(),
        )

    # --- queue stats ------------------------------------------------------------------

    def queue_stats(self) -> list[QueueStat]:
        stats = []
        wanted = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        for name, (_, dlq, source) in QUEUES.items():
            with aws_errors(f"reading queue {name}", self.stage):
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=self._queue_url(name), AttributeNames=wanted
                )["Attributes"]
            visible, in_flight, delayed = (int(attributes.get(a, 0)) for a in wanted)
            stats.append(QueueStat(name, visible, in_flight, delayed, dlq, source))
        return stats

    # --- table ------------------------------------------------------------------------

    def table_count(self, exact: bool = False, on_progress: Progress | None = None) -> TableCount:
        """DescribeTable's ItemCount (refreshed by AWS about every 6 hours), or an exact Scan."""
        with aws_errors(f"describing table {self._table}", self.stage):
            estimate = int(
                self.dynamodb.describe_table(TableName=self._table)["Table"]["ItemCount"]
            )
        if not exact:
            return TableCount(table=self._table, count=estimate, exact=False, age_seconds=None)
        return TableCount(
            table=self._table, count=self._scan_count(estimate, on_progress), exact=True
        )

    def _scan_count(self, estimate: int, on_progress: Progress | None) -> int:
        lock = threading.Lock()
        counted = [0]

        def segment(n: int) -> None:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "Select": "COUNT",
                "Segment": n,
                "TotalSegments": SCAN_SEGMENTS,
            }
            while True:
                page = self.dynamodb.scan(**kwargs)
                with lock:
                    counted[0] += int(page["Count"])
                    if on_progress:
                        on_progress("scanning", counted[0], max(estimate, counted[0]) or None)
                if "LastEvaluatedKey" not in page:
                    return
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        scanning = aws_errors(f"scanning table {self._table}", self.stage)
        with scanning, ThreadPoolExecutor(SCAN_SEGMENTS) as pool:
            list(pool.map(segment, range(SCAN_SEGMENTS)))
        return counted[0]

    def results(self, title_id: str) -> Results:
        """Fan out over the title's shards; the shard count is the deployed stack's."""
        shards = int(self.stack.parameters.get("TableShards") or self.stage.table_shards)
        table = DynamoVoteTable(self._table, client=self.dynamodb, shards=shards)
        with aws_errors(f"reading results for {title_id}", self.stage):
            return Results.from_counts(title_id, table.counts(title_id))

    # --- peek -------------------------------------------------------------------------

    def peek(self, queues: Sequence[str], count: int) -> list[PeekedMessage]:
        """Receive up to ``count`` messages of each queue, then make them visible again at once
        (ChangeMessageVisibility 0). SQS counts the receive: on a source queue that is one
        step nearer its DLQ; on a DLQ (no redrive policy) it changes nothing else."""
        found: list[PeekedMessage] = []
        for name in queues:
            url = self._queue_url(name)
            held: dict[str, dict[str, Any]] = {}
            with aws_errors(f"peeking at {name}", self.stage):
                try:
                    while len(held) < count:
                        reply = self.sqs.receive_message(
                            QueueUrl=url,
                            MaxNumberOfMessages=min(10, count - len(held)),
                            VisibilityTimeout=30,
                            WaitTimeSeconds=0,
                            MessageSystemAttributeNames=[
                                "ApproximateReceiveCount",
                                "SentTimestamp",
                            ],
                        )
                        fresh = [m for m in reply.get("Messages", []) if m["MessageId"] not in held]
                        if not fresh:
                            break
                        held.update((m["MessageId"], m) for m in fresh)
                finally:
                    release(self.sqs, url, [m["ReceiptHandle"] for m in held.values()])
            now = int(time.time() * 1000)
            found += [_peeked(name, m, now) for m in held.values()]
        return found

    # --- pulse (for `votectl watch`) -------------------------------------------------

    def pulse(self) -> Pulse:
        """CloudWatch's latest one-minute datapoints of the last five minutes (None where there
        is none): per queue the oldest message's age and messages sent a second (AWS/SQS);
        the writer's consumed write units per vote (its EMF metrics ConsumedWriteUnits and
        VotesWritten, namespace votectl, dimension TableName)."""
        names = {name: self._queue_url(name).rsplit("/", 1)[-1] for name in QUEUES}
        queries = []
        for n, physical in enumerate(names.values()):
            for metric, stat, key in (
                ("ApproximateAgeOfOldestMessage", "Maximum", "age"),
                ("NumberOfMessagesSent", "Sum", "sent"),
            ):
                queries.append(_metric_query(f"{key}{n}", metric, stat, physical))
        table = {"Name": "TableName", "Value": self._table}
        for key, metric in (("units", "ConsumedWriteUnits"), ("votes", "VotesWritten")):
            queries.append(_metric_query(key, metric, "Sum", table, NAMESPACE))
        end = time.time()
        with aws_errors("reading the stage's CloudWatch metrics", self.stage):
            reply = self.aws.client("cloudwatch").get_metric_data(
                MetricDataQueries=queries, StartTime=end - 300, EndTime=end
            )
        latest = {
            r["Id"]: (r["Values"][0] if r.get("Values") else None)
            for r in reply["MetricDataResults"]
        }
        ages: dict[str, float | None] = {}
        rates: dict[str, float | None] = {}
        for n, name in enumerate(names):
            ages[name] = latest.get(f"age{n}")
            sent = latest.get(f"sent{n}")
            rates[name] = None if sent is None else sent / 60
        units, votes = latest.get("units"), latest.get("votes")
        per_vote = units / votes if units is not None and votes else None
        return Pulse(accepted=None, oldest_age_s=ages, in_rate=rates, write_units_per_vote=per_vote)

    # --- logs -------------------------------------------------------------------------

    def logs(self, query: LogQuery, follow: bool = False) -> Iterator[LogEvent]:
        groups = {f: f"/aws/lambda/{self.stack.physical(FUNCTIONS[f])}" for f in query.functions}
        reader = CloudWatchLogs(self.aws.client("logs"), groups, self._sleep, self._poll_seconds)
        with aws_errors("reading the functions' logs", self.stage):
            yield from reader.read(query, follow)

    # --- canary -----------------------------------------------------------------------

    def probe(self, token: str | None) -> AwsProbe:
        return AwsProbe(self.aws, self.stack, self.stage, token)

    # --- redrive ----------------------------------------------------------------------

    def redrive(
        self,
        queue: str | None = None,
        max_per_second: int | None = None,
        cancel: bool = False,
        on_progress: Progress | None = None,
        dry_run: bool = False,
    ) -> RedriveResult:
        if max_per_second is not None and not 1 <= max_per_second <= MAX_MOVE_RATE:
            raise UsageError(f"--max-per-second must be 1-{MAX_MOVE_RATE}, got {max_per_second}")
        sources = _sources(queue)
        if dry_run:
            return _dry_run((s, self._depth(self._queue_url(f"{s}-dlq"))) for s in sources)
        try:
            moves = [
                self._cancel(source)
                if cancel
                else self._move_task(source, max_per_second, on_progress)
                for source in sources
            ]
            return RedriveResult(sum(m.moved for m in moves), "move-task", moves)
        except MoveTasksUnsupported:
            if cancel:
                raise UsageError(
                    "this endpoint has no message move tasks, so there is nothing to cancel",
                    hint="--cancel works against AWS, where redrive runs as a move task",
                ) from None
        moves = [self._receive_send_delete(s, max_per_second, on_progress) for s in sources]
        return RedriveResult(sum(m.moved for m in moves), "receive-send-delete", moves)

    def _move_call(self, action: str, call: Callable[[], Any]) -> Any:
        try:
            with aws_errors(action, self.stage):
                try:
                    return call()
                except ClientError as exc:
                    if no_such_action(exc):
                        raise MoveTasksUnsupported from None
                    raise
        except NotImplementedError:  # moto in-process
            raise MoveTasksUnsupported from None

    def _tasks(self, dlq_arn: str) -> list[dict[str, Any]]:
        reply = self._move_call(
            "listing message move tasks",
            lambda: self.sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10),
        )
        return list(reply.get("Results", []))

    def _move_task(self, source: str, rate: int | None, on_progress: Progress | None) -> QueueMove:
        dlq = f"{source}-dlq"
        dlq_arn = self._queue_arn(self._queue_url(dlq))
        target_arn = self._queue_arn(self._queue_url(source))
        if any(t.get("Status") == "RUNNING" for t in self._tasks(dlq_arn)):
            raise AwsError(
                f"a move task is already running on {dlq}",
                hint="wait for it, or stop it with `votectl redrive --cancel`",
            )
        options = {"MaxNumberOfMessagesPerSecond": rate} if rate else {}
        handle = self._move_call(
            f"starting a move task on {dlq}",
            lambda: self.sqs.start_message_move_task(
                SourceArn=dlq_arn, DestinationArn=target_arn, **options
            ),
        )["TaskHandle"]
        while True:
            task = next((t for t in self._tasks(dlq_arn) if t.get("TaskHandle") == handle), None)
            if task is None:
                raise AwsError(f"the move task on {dlq} disappeared from ListMessageMoveTasks")
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            total = task.get("ApproximateNumberOfMessagesToMove")
            if on_progress:
                on_progress(f"{dlq} -> {source}", moved, int(total) if total is not None else None)
            if task["Status"] in _FINISHED:
                if task["Status"] == "FAILED":
                    raise AwsError(f"move task on {dlq} failed: {task.get('FailureReason', '')}")
                return QueueMove(dlq, source, moved, task["Status"])
            self._sleep(self._poll_seconds)

    def _cancel(self, source: str) -> QueueMove:
        dlq = f"{source}-dlq"
        running = [
            t
            for t in self._tasks(self._queue_arn(self._queue_url(dlq)))
            if t.get("Status") == "RUNNING"
        ]
        moved = 0
        for task in running:
            handle = task["TaskHandle"]
            reply = self._move_call(
                f"cancelling the move task on {dlq}",
                partial(self.sqs.cancel_message_move_task, TaskHandle=handle),
            )
            moved += int(reply.get("ApproximateNumberOfMessagesMoved", 0))
        return QueueMove(dlq, source, moved, "CANCELLED" if running else "NONE_RUNNING")

    def _receive_send_delete(
        self, source: str, rate: int | None, on_progress: Progress | None
    ) -> QueueMove:
        dlq = f"{source}-dlq"
        dlq_url = self._queue_url(dlq)
        move = BoundedMove(self.sqs, self._sleep, f"{dlq} -> {source}", on_progress)
        budget = self._depth(dlq_url)
        with aws_errors(f"moving {dlq} -> {source}", self.stage):
            moved, came_back = move.run(dlq_url, self._queue_url(source), budget, rate)
        return QueueMove(dlq, source, moved, "COMPLETED", came_back=came_back)

    def _depth(self, url: str) -> int:
        with aws_errors("reading a queue's depth", self.stage):
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))


def _sources(queue: str | None) -> list[str]:
    """The source queues whose DLQs to redrive: both, or the one named (with or without -dlq)."""
    sources = [name for name, (_, dlq, _src) in QUEUES.items() if not dlq]
    if queue is None:
        return sources
    name = queue.removesuffix("-dlq")
    if name not in sources:
        raise UsageError(f"unknown queue {queue!r}", hint="queues: votes, ready (or their -dlq)")
    return [name]


def _peeked(queue: str, message: dict[str, Any], now_ms: int) -> PeekedMessage:
    attributes = message.get("Attributes", {})
    return peeked(
        queue,
        message["MessageId"],
        message["Body"],
        int(attributes.get("SentTimestamp", now_ms)),
        int(attributes.get("ApproximateReceiveCount", 0)),
        now_ms,
    )


def _metric_query(
    query_id: str,
    metric: str,
    stat: str,
    dimension: str | dict[str, str],
    namespace: str = "AWS/SQS",
) -> dict[str, Any]:
    """One GetMetricData query: a queue's metric (``dimension`` its name) or any other."""
    if isinstance(dimension, str):
        dimension = {"Name": "QueueName", "Value": dimension}
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [dimension],
            },
            "Period": 60,
            "Stat": stat,
        },
    }


def _dry_run(depths: Iterable[tuple[str, int]]) -> RedriveResult:
    moves = [QueueMove(f"{s}-dlq", s, 0, "DRY_RUN", would_move=n) for s, n in depths]
    return RedriveResult(0, "dry-run", moves)
