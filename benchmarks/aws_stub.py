"""A stub AWS endpoint on 127.0.0.1 for the calls the handlers make, with latency and throttling.

moto answers these calls too, but with no latency, no throttling and (for PartiQL) without
DynamoDB's INSERT/UPDATE conditions. This stub adds exactly that and nothing else:

- DynamoDB (JSON 1.0, ``X-Amz-Target: DynamoDB_20120810.*``): PutItem with the writer's
  last-writer-wins condition; BatchExecuteStatement with the writer's INSERT (DuplicateItem if
  the key exists) and conditional UPDATE (ConditionalCheckFailed unless newer). A ``throttle``
  fraction of PutItem calls fails with ProvisionedThroughputExceededException, of PartiQL
  statements with ProvisionedThroughputExceeded, as DynamoDB reports them.
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


@dataclass
class Stub:
    """The endpoint's state: settings (changeable between runs), items, messages, call counts."""

    settings: StubSettings = field(default_factory=StubSettings)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[str]] = field(default_factory=dict)
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
            item = body["Item"]
            new = {k: next(iter(v.values())) for k, v in item.items()}
            if not self._upsert(new, insert_only=False):
                return _error("ConditionalCheckFailedException", "The conditional request failed")
            return 200, {}
        if op == "BatchExecuteStatement":
            responses = [self._statement(s) for s in body["Statements"]]
            return 200, {"Responses": responses}
        return _error("UnknownOperationException", f"the stub has no {op}")

    def _statement(self, statement: dict[str, Any]) -> dict[str, Any]:
        text = statement["Statement"]
        table = text.split('"')[1]
        params = [next(iter(p.values())) for p in statement["Parameters"]]
        with self.lock:
            self.calls["statements"] += 1
        if self._throttled(self.settings.throttle) or self._doomed(
            params[1 if text[0] == "I" else 3]
        ):
            return {"TableName": table, "Error": {"Code": "ProvisionedThroughputExceeded"}}
        if text.startswith("INSERT"):
            keys = ("pk", "sk", "title_id", "user_id", "aspect", "score", "voted_at")
            if not self._upsert(dict(zip(keys, params, strict=True)), insert_only=True):
                return {"TableName": table, "Error": {"Code": "DuplicateItem"}}
            return {"TableName": table}
        score, at, pk, sk = params[:4]
        if not self._update(pk, sk, at, score):
            return {"TableName": table, "Error": {"Code": "ConditionalCheckFailed"}}
        return {"TableName": table}

    def _upsert(self, new: dict[str, Any], insert_only: bool) -> bool:
        key = (new["pk"], new["sk"])
        with self.lock:
            old = self.items.get(key)
            if old is not None and (insert_only or _order(old) >= _order(new)):
                return False
            self.items[key] = new
            return True

    def _update(self, pk: str, sk: str, at: str, score: str) -> bool:
        with self.lock:
            old = self.items.get((pk, sk))
            if old is None or _order(old) >= (at, int(score)):
                return False
            old.update(voted_at=at, score=score)
            return True

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
                ok.append({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": ""})
            return 200, {"Successful": ok, "Failed": failed}
        return _error("UnsupportedOperation", f"the stub has no {op}")


def _order(item: dict[str, Any]) -> tuple[str, int]:
    return (item["voted_at"], int(item["score"]))


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
