"""The zips themselves: bundled for this host's Python and machine, unzipped, and each handler run
from its unzipped files in a fresh interpreter against a moto server.

The interpreter starts isolated (-I -S: no site-packages, no PYTHONPATH) with only the unzip
directory and a directory of links to boto3 and its dependencies on sys.path, so ``lambdas`` and
``msgspec`` can only come from the zip. A vote travels the whole pipeline: API event -> receiver
-> votes queue -> processor -> ready queue -> writer -> table. The wheel comes from PyPI through
the bundler's own ``pip download`` (cached in the wheel cache afterwards).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import uuid
import zipfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.functional.conftest import http_event, sqs_event
from votectl.aws import bundle

HOST_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
HOST_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]

# boto3 and what it imports, linked in from this interpreter's site-packages
BOTO = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

# Runs inside the fresh interpreter: argv = [unzip dir, boto dir, function]; event on stdin.
BOOT = """
import json, sys
sys.path[:0] = sys.argv[1:3]
import importlib
handler = importlib.import_module("lambdas." + sys.argv[3]).handler
import lambdas, msgspec

class Context:
    aws_request_id = "req-1"
    function_name = sys.argv[3]
    def get_remaining_time_in_millis(self):
        return 10_000

result = handler(json.load(sys.stdin), Context())
print(json.dumps({"result": result, "lambdas": lambdas.__file__, "msgspec": msgspec.__file__}))
"""


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each function's zip, built for the host, unzipped into its own directory."""
    root = tmp_path_factory.mktemp("zips")
    result = bundle.build(root / "dist", HOST_ARCH, runtime=HOST_RUNTIME)
    assert (result.runtime, result.architecture) == (HOST_RUNTIME, HOST_ARCH)
    folders = {}
    for artifact in result.artifacts:
        folder = root / artifact.function
        with zipfile.ZipFile(artifact.path) as archive:
            archive.extractall(folder)
        folders[artifact.function] = folder
    return folders


@pytest.fixture(scope="module")
def boto_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("boto")
    for name in BOTO:
        spec = find_spec(name)
        assert spec is not None and spec.origin, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture
def aws_on(moto_url: str, aws_env: dict[str, str]) -> dict[str, Any]:
    """Queues and a table on the moto server, and the environment Lambda would give."""
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    ddb = boto3.client("dynamodb", endpoint_url=moto_url)
    name = f"zip-{uuid.uuid4().hex[:8]}"  # one moto server serves every test here
    votes = sqs.create_queue(QueueName=f"{name}-votes")["QueueUrl"]
    ready = sqs.create_queue(QueueName=f"{name}-ready")["QueueUrl"]
    keys = [("pk", "HASH"), ("sk", "RANGE")]
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
    )
    env = {
        **aws_env,
        "AWS_ENDPOINT_URL": moto_url,
        "VOTES_QUEUE_URL": votes,
        "READY_QUEUE_URL": ready,
        "TABLE_NAME": name,
        "TABLE_SHARDS": "10",
        # moto's PartiQL overwrites on INSERT and refuses conditions in WHERE: the conditional
        # PutItem path (same last-writer-wins rule) is the one moto can judge
        "WRITE_PATH": "classic",
    }
    return {"env": env, "sqs": sqs, "ddb": ddb, "votes": votes, "ready": ready, "table": name}


def run_zip(
    function: str, event: dict[str, Any], unzipped: dict[str, Path], boto: Path, env: dict[str, str]
) -> dict[str, Any]:
    folder = unzipped[function]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", BOOT, str(folder), str(boto), function],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["lambdas"]).is_relative_to(folder)  # the zip's code ...
    assert Path(out["msgspec"]).is_relative_to(folder)  # ... and the zip's compiled msgspec
    return dict(out["result"])


def drain(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in messages]


def test_a_vote_travels_the_pipeline_through_the_unzipped_functions(
    unzipped: dict[str, Path], boto_dir: Path, aws_on: dict[str, Any]
) -> None:
    env, sqs = aws_on["env"], aws_on["sqs"]
    vote = {"user_id": "u1", "title_id": "t1", "aspect": "Story", "score": 4}

    event = http_event("POST", "/votes", json.dumps(vote))
    answer = run_zip("receiver", event, unzipped, boto_dir, env)
    assert answer["statusCode"] == 202 and json.loads(answer["body"])["accepted"] == 1
    queued = drain(sqs, aws_on["votes"])
    assert len(queued) == 1 and '"t1"' in queued[0]

    result = run_zip("processor", sqs_event(queued), unzipped, boto_dir, env)
    assert result == {"batchItemFailures": []}
    ready = drain(sqs, aws_on["ready"])
    assert len(ready) == 1

    result = run_zip("writer", sqs_event(ready), unzipped, boto_dir, env)
    assert result == {"batchItemFailures": []}
    items = aws_on["ddb"].scan(TableName=aws_on["table"])["Items"]
    assert [(i["sk"]["S"], i["score"]["N"]) for i in items] == [("story#u1", "4")]


def test_a_bad_request_is_answered_by_the_zip_too(
    unzipped: dict[str, Path], boto_dir: Path, aws_on: dict[str, Any]
) -> None:
    event = http_event("POST", "/votes", '{"user_id": "u1"}')
    answer = run_zip("receiver", event, unzipped, boto_dir, aws_on["env"])
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["error"]) == (400, "invalid vote")
    assert body["details"][0]["field"] == "title_id"
    assert drain(aws_on["sqs"], aws_on["votes"]) == []


def test_the_receiver_zip_answers_a_function_url_event(
    unzipped: dict[str, Path], boto_dir: Path, aws_on: dict[str, Any]
) -> None:
    """The front door `function-url` sends Function URL events (payload format 2.0)."""
    vote = {"user_id": "u2", "title_id": "t9", "aspect": "acting", "score": 5}
    event = http_event("POST", "/votes", json.dumps(vote), template="lambda-function-url.json")
    answer = run_zip("receiver", event, unzipped, boto_dir, aws_on["env"])
    assert answer["statusCode"] == 202
    [queued] = drain(aws_on["sqs"], aws_on["votes"])
    assert '"t9"' in queued
