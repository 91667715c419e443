"""Capacity and the front door as deployed to moto: per-function memory, runtime and reserved
concurrency, the writer's re-queue permission, and the Function URL instead of the HTTP API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional import test_aws_deploy as shared
from votectl.aws.deploy import deploy
from votectl.aws.session import Aws
from votectl.aws.stack import read_stack
from votectl.config import Stage

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

aws, Recorder = shared.aws, shared.Recorder


def test_each_function_gets_its_own_capacity(aws: Aws, tmp_path: Path) -> None:
    stage = Stage(
        name="dev",
        region="us-east-1",
        runtime="python3.13",
        receiver_memory=384,
        processor_memory=640,
        writer_memory=2048,
        writer_reserved_concurrency=60,
    )
    assert deploy(Aws(stage), Recorder(), out_dir=tmp_path).outcome == "deployed"
    lam = aws.client("lambda")
    config = {
        name: lam.get_function_configuration(FunctionName=f"votectl-dev-{name}")
        for name in ("receiver", "processor", "writer")
    }
    assert {n: c["MemorySize"] for n, c in config.items()} == {
        "receiver": 384,
        "processor": 640,
        "writer": 2048,
    }
    assert {c["Runtime"] for c in config.values()} == {"python3.13"}
    reserved = lam.get_function_concurrency(FunctionName="votectl-dev-writer")
    assert reserved["ReservedConcurrentExecutions"] == 60
    unreserved = lam.get_function_concurrency(FunctionName="votectl-dev-receiver")
    assert "ReservedConcurrentExecutions" not in unreserved
    # the processor reserves its event source's MaximumConcurrency by default (issue 17)
    processor = lam.get_function_concurrency(FunctionName="votectl-dev-processor")
    assert processor["ReservedConcurrentExecutions"] == stage.processor_max_concurrency
    ready = read_stack(aws).physical("ReadyQueue")
    assert config["writer"]["Environment"]["Variables"]["READY_QUEUE_URL"] == ready
    assert config["writer"]["Environment"]["Variables"]["WRITE_PATH"] == "partiql"


def test_the_function_url_front_door_replaces_the_http_api(aws: Aws, tmp_path: Path) -> None:
    stage = Stage(
        name="dev",
        region="us-east-1",
        front_door="function-url",
        receiver_reserved_concurrency=100,
    )
    assert deploy(Aws(stage), Recorder(), out_dir=tmp_path).outcome == "deployed"
    # moto's change set lists every resource whatever its condition, and it skips the HTTP API;
    # the stack honours conditions: these two exist only with the HTTP API
    resources = read_stack(aws).resources
    assert {"ReceiverUrlPermission", "ReceiverUrlInvokePermission"} <= set(resources)
    assert not {"HttpApiAccessLogGroup", "ReceiverInvokePermission"} & set(resources)
    reserved = aws.client("lambda").get_function_concurrency(FunctionName="votectl-dev-receiver")
    assert reserved["ReservedConcurrentExecutions"] == 100
