"""The servers the benchmark measures besides `votectl up`: the ceiling app and the moto path.

Run as a script: ``python benchmarks/_servers.py ceiling PORT [WORKERS]`` (WORKERS uvicorn
processes sharing the port, as `votectl up --workers`) or ``moto PORT`` (with the queue URLs,
table name and moto endpoint in the environment).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

import uvicorn

# the ceiling's uvicorn settings: httptools and uvloop, as the endpoint of `votectl up`
SERVER_SETTINGS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "off",
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "log_level": "warning",
}
_BODY = b'{"accepted":1,"request_id":"c"}'
# the headers `votectl up` answers with (its content-length too)
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


async def ceiling(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body, answers 202: what the machine can do with no pipeline at all."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 202, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def _poll(name: str, queue_url: str, handler: Any, sqs: Any) -> None:
    """A minimal SQS event source mapping: receive 10, invoke, delete the successes."""
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            continue
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
            }
            for m in got
        ]
        failed = {
            f["itemIdentifier"]
            for f in handler({"Records": records}, None).get("batchItemFailures", [])
        }
        done = [m for m in got if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        if failed:
            time.sleep(0.1)


def serve_moto(port: int) -> None:
    """receiver -> SQS -> processor -> SQS -> writer -> DynamoDB, every hop through moto."""
    import boto3

    from lambdas import processor, receiver, writer
    from lambdas.adapters import DynamoVoteTable, SqsQueue
    from votectl.local.gateway import Gateway
    from votectl.local.serve import use_uvloop

    endpoint = os.environ["MOTO_URL"]
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    votes_url, ready_url = os.environ["VOTES_QUEUE_URL"], os.environ["READY_QUEUE_URL"]
    process = processor.make_handler(SqsQueue(ready_url, client=sqs))
    # moto implements PutItem's conditions, not PartiQL's
    table = DynamoVoteTable(os.environ["TABLE_NAME"], client=ddb, path="classic")
    write = writer.make_handler(table)
    for name, url, handler in (("processor", votes_url, process), ("writer", ready_url, write)):
        client = boto3.client("sqs", endpoint_url=endpoint)
        threading.Thread(target=_poll, args=(name, url, handler, client), daemon=True).start()
    gateway = Gateway(receiver.make_handler(SqsQueue(votes_url, client=sqs)))
    use_uvloop()
    asyncio.run(_serve_endpoint(gateway, port))


async def _serve_endpoint(gateway: Any, port: int) -> None:
    """The gateway behind the endpoint `votectl up` runs (votectl/local/protocol.py)."""
    from votectl.local.limits import Limits
    from votectl.local.protocol import Endpoint

    loop = asyncio.get_running_loop()
    endpoint = Endpoint(gateway, Limits().within_open_files(), loop)
    server = await loop.create_server(endpoint.connection, "127.0.0.1", port, backlog=2048)
    endpoint.start()
    await server.serve_forever()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "ceiling":
        workers = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        here = os.path.dirname(os.path.abspath(__file__))
        uvicorn.run(
            "_servers:ceiling",
            app_dir=here,
            host="127.0.0.1",
            port=port,
            workers=workers,
            **SERVER_SETTINGS,
        )
    else:
        serve_moto(port)
