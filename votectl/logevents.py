"""The handlers' log lines as events, on either target: parsing, the query, the `--since` form.

A handler line is one JSON object (its fields are fixed in notes/SHARED_NAMES.md: timestamp,
level, function, message, request_id, correlation_id, extra keys); anything else (a traceback,
Lambda's START/END/REPORT lines, a library's print) is a plain message of the function whose
log it is in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from votectl.errors import UsageError

__all__ = ["FUNCTIONS", "LogEvent", "LogQuery", "parse_line", "parse_since"]

FUNCTIONS = ("receiver", "processor", "writer")
_SINCE = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_KNOWN = {"timestamp", "level", "function", "message", "request_id", "correlation_id"}


def parse_since(text: str) -> float:
    """``90``, ``30s``, ``10m``, ``2h``, ``1d`` in seconds."""
    match = _SINCE.match(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise UsageError(f"--since must look like 30s, 10m, 2h or 1d, got {text!r}")
    return float(int(match.group(1)) * _UNIT[match.group(2)])


@dataclass(frozen=True)
class LogQuery:
    functions: tuple[str, ...] = FUNCTIONS
    since_s: float = 600.0
    filter_text: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.functions) - set(FUNCTIONS)
        if unknown or not self.functions:
            raise UsageError(
                f"--function must be among {', '.join(FUNCTIONS)}, got {', '.join(sorted(unknown))}"
            )
        if self.filter_text is not None and (not self.filter_text or '"' in self.filter_text):
            raise UsageError("--filter takes a non-empty text without double quotes")

    def start_ms(self, now_ms: int) -> int:
        return now_ms - int(self.since_s * 1000)

    def matches(self, event: LogEvent) -> bool:
        return event.function in self.functions and (
            self.filter_text is None or self.filter_text in event.raw
        )


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    function: str
    message: str
    level: str | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    source: str = ""  # the log file or stream it came from
    extra: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "function": self.function,
            "level": self.level,
            "message": self.message,
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "source": self.source,
            "extra": self.extra,
        }


def parse_line(line: str, function: str, timestamp_ms: int, source: str = "") -> LogEvent:
    """One log line as an event; ``function`` and ``timestamp_ms`` apply where the line has none."""
    line = line.rstrip("\n")
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "message" not in data:
        return LogEvent(timestamp_ms, function, line, source=source, raw=line)
    return LogEvent(
        timestamp_ms=_ms(data.get("timestamp"), timestamp_ms),
        function=str(data.get("function") or function),
        message=str(data["message"]),
        level=None if data.get("level") is None else str(data["level"]),
        request_id=None if data.get("request_id") is None else str(data["request_id"]),
        correlation_id=None if data.get("correlation_id") is None else str(data["correlation_id"]),
        source=source,
        extra={k: v for k, v in data.items() if k not in _KNOWN},
        raw=line,
    )


def _ms(value: object, default: int) -> int:
    if not isinstance(value, str):
        return default
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return default
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)
