"""The handlers' log line format (notes/SHARED_NAMES.md) parsed, and what is not it kept."""

from __future__ import annotations

import json

import pytest

from votectl.errors import UsageError
from votectl.logevents import LogQuery, parse_line, parse_since


def test_a_handler_line_is_parsed_with_its_extra_keys() -> None:
    line = json.dumps(
        {
            "timestamp": "2026-11-27T16:00:01.250Z",
            "level": "ERROR",
            "function": "writer",
            "message": "throttled",
            "request_id": "r1",
            "correlation_id": None,
            "correlation_ids": ["a", "b"],
            "votes": 3,
        }
    )
    event = parse_line(line + "\n", "processor", 0, "writer.log")
    assert (event.function, event.level, event.message) == ("writer", "ERROR", "throttled")
    assert event.timestamp_ms == 1795795201250 and event.request_id == "r1"
    assert event.correlation_id is None and event.extra == {
        "correlation_ids": ["a", "b"],
        "votes": 3,
    }
    assert event.to_json()["timestamp"] == "2026-11-27T16:00:01.250Z"


@pytest.mark.parametrize(
    "line",
    [
        "Traceback (most recent call last):",
        "[1, 2]",
        '{"no": "message"}',
        "START RequestId: x Version: $LATEST",
    ],
)
def test_anything_else_is_a_plain_message_of_its_function(line: str) -> None:
    event = parse_line(line, "receiver", 42, "gateway-0.log")
    assert (event.function, event.message, event.timestamp_ms, event.level) == (
        "receiver",
        line,
        42,
        None,
    )


def test_a_bad_timestamp_falls_back() -> None:
    event = parse_line(json.dumps({"message": "m", "timestamp": "yesterday"}), "writer", 7)
    assert event.timestamp_ms == 7 and event.function == "writer"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)]
)
def test_since(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "0m", "10x", "-5m", "m"])
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(UsageError, match="--since"):
        parse_since(text)


def test_query_checks_functions_and_filter() -> None:
    with pytest.raises(UsageError, match="--function must be among"):
        LogQuery(("gateway",))
    with pytest.raises(UsageError, match="double quotes"):
        LogQuery(filter_text='a"b')
    query = LogQuery(("writer",), filter_text="r1")
    assert query.matches(parse_line('{"message": "m", "request_id": "r1"}', "writer", 0))
    assert not query.matches(parse_line('{"message": "m", "request_id": "r1"}', "processor", 0))


def test_a_batch_line_shows_its_correlation_ids() -> None:
    """A batch of many requests logs ``correlation_ids`` (no single ``correlation_id``): the
    human line still names them, the first whole and how many more."""
    from rich.text import Text

    from votectl.cli.render import log_line

    base = {"timestamp": "2026-11-27T16:00:01.250Z", "level": "INFO", "function": "writer"}
    line = json.dumps(base | {"message": "batch written", "correlation_ids": ["KL01", "KL02"]})
    shown = Text.from_markup(log_line(parse_line(line, "writer", 0, "writer.log"))).plain
    assert shown.endswith("batch written  correlation_ids=KL01 +1 more")
    one = json.dumps(base | {"message": "batch written", "correlation_id": "KL03"})
    shown = Text.from_markup(log_line(parse_line(one, "writer", 0, "writer.log"))).plain
    assert shown.endswith("batch written  correlation_id=KL03")
