"""The handlers' JSON log lines: the shape `votectl logs` reads."""

from __future__ import annotations

import json
import logging
import re

import pytest

from lambdas.log import IDS_PER_LINE, JsonFormatter, function_logger, log_batch, log_fields


def test_a_line_has_the_shared_keys_and_the_extra_ones() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "votes %s", ("rejected",), None)
    record.__dict__.update(log_fields(rejected=2, correlation_id="req-1"))
    line = json.loads(JsonFormatter("processor").format(record))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("timestamp"))
    assert line == {
        "level": "WARNING",
        "function": "processor",
        "message": "votes rejected",
        "request_id": None,
        "correlation_id": "req-1",
        "rejected": 2,
    }


def test_a_batch_names_every_id_in_bounded_lines(capsys: pytest.CaptureFixture[str]) -> None:
    logger = function_logger("writer")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        ids = [f"req-{n}" for n in range(IDS_PER_LINE * 2 + 1)]
        log_batch(logger, "batch written", ids, votes=7)
        log_batch(logger, "batch written", ["only"], votes=1)
    finally:
        logger.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [len(line["correlation_ids"]) for line in lines] == [IDS_PER_LINE, IDS_PER_LINE, 1, 1]
    assert [i for line in lines[:3] for i in line["correlation_ids"]] == ids
    assert lines[3]["correlation_id"] == "only" and lines[0]["correlation_id"] is None


def test_handlers_log_warnings_only_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    logging.getLogger("votectl.test-quiet").handlers.clear()
    assert function_logger("test-quiet").level == logging.WARNING
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "votectl-dev-writer")
    logging.getLogger("votectl.test-lambda").handlers.clear()
    assert function_logger("test-lambda").level == logging.INFO
