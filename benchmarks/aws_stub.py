"""A stub AWS endpoint on 127.0.0.1 for the calls the handlers make, with latency and throttling.

moto answers these calls too, but with no latency, no throttling and (for PartiQL) without
DynamoDB's INSERT/UPDATE conditions. This stub adds exactly that and nothing else:

- DynamoDB (JSON 1.0, ``X-Amz-Target: DynamoDB_20120810.*``): PutItem and UpdateItem with the
  writer's last-writer-wins condition (the stored item on ConditionalCheckFailedException with
  ReturnValuesOnConditionCheckFailure=ALL_OLD); BatchExecuteStatement with the writer's INSERT
  (DuplicateItem if the key exists) and conditional UPDATE (ConditionalCheckFailed unless
  newer, the stored item in the error with ALL_OLD, none if the item is gone). A ``throttle``
  fraction of writes fails with ProvisionedThroughputExceeded(Exception), as DynamoDB reports
  it; ``refuse`` answers one statement verb with a ValidationError, as DynamoDB answers a
  statement shape it does not accept; ``vanish`` deletes an item between its DuplicateItem
  and the UPDATE. Consumed capacity as AWS bills it: a unit per write evaluated, the failed
  ones included (a DuplicateItem INSERT, a failed condition), none for throttled or refused
  ones; reported with ReturnConsumedCapacity (not on a failed UpdateItem, whose error has no
  such field), and counted in ``calls["write_units"]``.
- SQS (JSON 1.0, ``X-Amz-Target: AmazonSQS.*``): SendMessage / SendMessageBatch, kept per queue
  URL; ``sqs_stall`` seconds of delay make it a stalled SQS; ``sqs_fail`` fails that fraction
  of batch entries (a partial SendMessageBatch failure).

Every answer waits ``latency`` seconds first (default 4 ms, a same-Region call). Items live in
memory so a run can check that nothing was lost. Used by benchmarks/aws_capacity.py and the
fault-injection tests.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Stub", "StubSettings"]


@dataclass
class StubSettings:
    latency: float = 0.004
    throttle: float = 0.0
    sqs_stall: float = 0.0
    sqs_fail: float = 0.0
    seed: int = 1
    always_throttle: str = ""  # writes of user ids starting with this always throttle
    refuse: str = ""  # "INSERT" or "UPDATE": that PartiQL statement gets a ValidationError
    vanish: str = ""  # items of user ids starting with this vanish after a DuplicateItem


@dataclass
class Stub:
    """The endpoint's state: settings (changeable between runs), items, messages, call counts."""

    settings: StubSettings = field(default_factory=StubSettings)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[str]] = field(default_factory=dict)
    delays: dict[str, list[int]] = field(default_factory=dict)  # DelaySeconds per message
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.settings.seed)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.items.clear()
            self.messages.clear()
            self.delays.clear()
            self.calls.clear()

    def _doomed(self, sort_key: str) -> bool:
        prefix = self.settings.always_throttle
        return bool(prefix) and sort_key.split("#", 1)[1].startswith(prefix)

    def _throttled(self, fraction: float) -> bool:
        with self.lock:
            return fraction > 0 and self._rng.random() < fraction

    # --- DynamoDB ----------------------------------------------------------------------

    def dynamodb(self, op: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if op == "PutItem":
            if self._throttled(self.settings.throttle) or self._doomed(body["Item"]["sk"]["S"]):
                return _error("ProvisionedThroughputExceededException", "Rate exceeded")
            new = {k: next(iter(v.values())) for k, v in body["Item"].items()}
            self._bill(body.get("TableName", ""), 1)
            if not self._upsert(new, insert_only=False):
                return _error("ConditionalCheckFailedException", "The conditional request failed")
            return 200, {}
        if op == "UpdateItem":
            return self._update_item(body)
        if op == "BatchExecuteStatement":
            responses = [self._statement(s) for s in body["Statements"]]
            units = sum(1 for r in responses if r.pop("_billed", False))
            reply: dict[str, Any] = {"Responses": responses}
            table = responses[0]["TableName"] if responses else ""
            self._bill(table, units)
            if body.get("ReturnConsumedCapacity", "NONE") != "NONE":
                reply["ConsumedCapacity"] = [{"TableName": table, "CapacityUnits": float(units)}]
            return 200, reply
        return _error("UnknownOperationException", f"the stub has no {op}")

    def _bill(self, table: str, units: int) -> None:
        with self.lock:
            self.calls["write_units"] += units

    def _statement(self, statement: dict[str, Any]) -> dict[str, Any]:
        """One PartiQL statement: the writer's INSERT (DuplicateItem if the key exists) or its
        conditional UPDATE (ConditionalCheckFailed unless newer; with ALL_OLD the stored item
        rides on the error, and no item when there is none). Values are matched to the names
        the statement gives them, in order."""
        text = statement["Statement"]
        table = text.split('"')[1]
        params = [next(iter(p.values())) for p in statement["Parameters"]]
        with self.lock:
            self.calls["statements"] += 1
        verb = text.split(" ", 1)[0]
        if self.settings.refuse and verb == self.settings.refuse:
            message = f"Statement wasn't well formed ({verb} refused by the stub)"
            return {"TableName": table, "Error": {"Code": "ValidationError", "Message": message}}
        if verb == "INSERT":
            new = dict(zip(re.findall(r"'(\w+)': \?", text), params, strict=True))
        else:
            where = text.index(" WHERE ")
            sets = re.findall(r'"(\w+)" = \?', text[:where])
            new = dict(zip(sets, params[: len(sets)], strict=True))
            tests = re.findall(r'"(\w+)" [=<] \?', text[where:])
            conditions = list(zip(tests, params[len(sets) :], strict=True))
            new.update(pk=conditions[0][1], sk=conditions[1][1])
        if self._throttled(self.settings.throttle) or self._doomed(new["sk"]):
            return {"TableName": table, "Error": {"Code": "ProvisionedThroughputExceeded"}}
        if verb == "INSERT":
            if not self._upsert(new, insert_only=True):
                self._vanish(new)
                return {"TableName": table, "Error": {"Code": "DuplicateItem"}, "_billed": True}
            return {"TableName": table, "_billed": True}
        old = self._update(new)
        if old is not None:
            error: dict[str, Any] = {"Code": "ConditionalCheckFailed"}
            if old and statement.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                error["Item"] = _typed(old)
            return {"TableName": table, "Error": error, "_billed": True}
        return {"TableName": table, "_billed": True}

    def _update_item(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The classic path's UpdateItem: create if absent, replace if older, else fail."""
        key = {k: next(iter(v.values())) for k, v in body["Key"].items()}
        if self._throttled(self.settings.throttle) or self._doomed(key["sk"]):
            return _error("ProvisionedThroughputExceededException", "Rate exceeded")
        names = body["ExpressionAttributeNames"]
        values = body["ExpressionAttributeValues"]
        sets = re.findall(r"(#\w+) = (:\w+)", body["UpdateExpression"])
        new = {**key, **{names[n]: next(iter(values[v].values())) for n, v in sets}}
        table = body["TableName"]
        self._bill(table, 1)
        with self.lock:
            old = self.items.get((key["pk"], key["sk"]))
            if old is None or _order(old) < _order(new):
                self.items[(key["pk"], key["sk"])] = new
                reply: dict[str, Any] = {}
                if body.get("ReturnConsumedCapacity", "NONE") != "NONE":
                    reply["ConsumedCapacity"] = {"TableName": table, "CapacityUnits": 1.0}
                return 200, reply
            stored = dict(old)
        status, error = _error("ConditionalCheckFailedException", "The conditional request failed")
        if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
            error["Item"] = _typed(stored)
        return status, error

    def _vanish(self, item: dict[str, Any]) -> None:
        """Delete an item its duplicate INSERT found, for user ids starting with ``vanish``:
        the item is gone by the time the UPDATE runs (a delete racing the write)."""
        prefix = self.settings.vanish
        if prefix and item["user_id"].startswith(prefix):
            with self.lock:
                if self.items.pop((item["pk"], item["sk"]), None) is not None:
                    self.calls["vanished"] += 1

    def _upsert(self, new: dict[str, Any], insert_only: bool) -> bool:
        key = (new["pk"], new["sk"])
        with self.lock:
            old = self.items.get(key)
            if old is not None and (insert_only or _order(old) >= _order(new)):
                return False
            self.items[key] = new
            return True

    def _update(self, new: dict[str, Any]) -> dict[str, Any] | None:
        """Apply the UPDATE if its vote is newer; else the stored item ({} if there is none)."""
        with self.lock:
            old = self.items.get((new["pk"], new["sk"]))
            if old is None:
                return {}
            if _order(old) >= _order(new):
                return dict(old)
            old.update(new)
            return None

    # --- SQS ---------------------------------------------------------------------------

    def sqs(self, op: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.settings.sqs_stall:
            time.sleep(self.settings.sqs_stall)
        url = body.get("QueueUrl", "")
        if op == "SendMessage":
            with self.lock:
                self.messages.setdefault(url, []).append(body["MessageBody"])
            return 200, {"MessageId": "m", "MD5OfMessageBody": ""}
        if op == "SendMessageBatch":
            ok, failed = [], []
            for entry in body["Entries"]:
                if self._throttled(self.settings.sqs_fail):
                    failed.append(
                        {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"}
                    )
                    continue
                with self.lock:
                    self.messages.setdefault(url, []).append(entry["MessageBody"])
                    self.delays.setdefault(url, []).append(int(entry.get("DelaySeconds", 0)))
                ok.append({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": ""})
            return 200, {"Successful": ok, "Failed": failed}
        return _error("UnsupportedOperation", f"the stub has no {op}")


def _order(item: dict[str, Any]) -> tuple[str, int]:
    return (item["voted_at"], int(item["score"]))


def _typed(item: dict[str, Any]) -> dict[str, Any]:
    return {k: {"N" if k == "score" else "S": str(v)} for k, v in item.items()}


def _error(code: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}


class _Handler(BaseHTTPRequestHandler):
    owner: Stub
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects

    def setup(self) -> None:
        super().setup()
        # headers and body leave as two writes: without this, Nagle holds the body for the
        # client's delayed ACK (40 ms), which no AWS endpoint adds
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        stub = self.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        service, _, op = (self.headers.get("X-Amz-Target") or "").partition(".")
        time.sleep(stub.settings.latency)
        with stub.lock:
            stub.calls[op] += 1
        body = json.loads(raw or b"{}")
        if service.startswith("DynamoDB"):
            status, reply = stub.dynamodb(op, body)
        else:
            status, reply = stub.sqs(op, body)
        data = json.dumps(reply).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a stalled SQS's read timeout)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass
