"""Structured logs: one JSON object per line, the shape `votectl logs` reads.

    {"timestamp": "2026-11-27T16:00:00.123Z", "level": "INFO", "function": "writer",
     "message": "...", "request_id": ..., "correlation_id": ..., ...extra keys}

A stdlib ``logging.Formatter`` and msgspec, not Powertools' Logger: the same line for about
nothing in zip size or import time (docs/how-it-works.md). On Lambda (AWS_LAMBDA_FUNCTION_NAME
set) the default level is INFO; elsewhere WARNING (a test, a script), and `votectl up`'s pollers
set LOG_LEVEL=INFO unless it is set. Handlers log per batch or request, never per vote.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

__all__ = ["JsonFormatter", "function_logger", "log_batch", "log_fields"]

IDS_PER_LINE = 1000
"""Correlation ids per line: about 40 KB, well under CloudWatch's 256 KB per event."""

_encode = msgspec.json.Encoder().encode
_FIELDS = "fields"


class JsonFormatter(logging.Formatter):
    def __init__(self, function: str) -> None:
        super().__init__()
        self.function = function

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "function": self.function,
            "message": record.getMessage(),
            "request_id": None,
            "correlation_id": None,
        }
        line.update(getattr(record, _FIELDS, None) or {})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return _encode(line).decode()


class _Stdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (test capture, redirection)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def log_fields(**fields: Any) -> dict[str, Any]:
    """``extra=`` for a log call: the keys land at the top level of the JSON line."""
    return {_FIELDS: fields}


def function_logger(function: str) -> logging.Logger:
    """The logger of one handler ("receiver", "processor", "writer"), writing to stdout."""
    logger = logging.getLogger(f"votectl.{function}")
    if not logger.handlers:
        handler = _Stdout()
        handler.setFormatter(JsonFormatter(function))
        logger.addHandler(handler)
        logger.propagate = False  # Lambda's runtime has its own handler on the root logger
        default = "INFO" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "WARNING"
        logger.setLevel(os.environ.get("LOG_LEVEL", default).upper())
    return logger


def log_batch(logger: logging.Logger, message: str, ids: list[str], **fields: Any) -> None:
    """One INFO line for a batch, naming its correlation ids (a line per IDS_PER_LINE more)."""
    first = ids[:IDS_PER_LINE]
    one = first[0] if len(ids) == 1 else None
    logger.info(message, extra=log_fields(**fields, correlation_id=one, correlation_ids=first))
    for n in range(IDS_PER_LINE, len(ids), IDS_PER_LINE):
        more = ids[n : n + IDS_PER_LINE]
        logger.info(f"{message} (more ids)", extra=log_fields(**fields, correlation_ids=more))
