"""The three functions' CloudWatch Logs, interleaved by time and labelled, for `votectl logs`.

Reading: FilterLogEvents on each function's log group (/aws/lambda/<function name>), merged by
timestamp. Following: StartLiveTail where the endpoint streams it; FilterLogEvents polled from
the last event seen where it does not: no such action, an endpoint that cannot be reached for
it, or a session that ends on its own with no SessionTimeoutException (moto answers one update
and closes; AWS sends an update every second and ends a session only after three hours, with
SessionTimeoutException: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/
API_StartLiveTail.html).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError, EventStreamError

from votectl.aws.session import no_such_action
from votectl.logevents import LogEvent, LogQuery, parse_line

__all__ = ["CloudWatchLogs"]


class LiveTailUnsupported(Exception):
    """The endpoint has no StartLiveTail: poll FilterLogEvents instead."""


class CloudWatchLogs:
    def __init__(
        self,
        client: Any,
        groups: dict[str, str],
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.groups = groups  # function -> log group name
        self._sleep = sleep
        self._poll_seconds = poll_seconds
        self._clock = clock

    def read(self, query: LogQuery, follow: bool = False) -> Iterator[LogEvent]:
        now_ms = int(self._clock() * 1000)
        events = self._filter(query, query.start_ms(now_ms))
        yield from events
        if not follow:
            return
        seen = list(events)
        newest = max([now_ms, *(e.timestamp_ms for e in events)])
        try:
            shown = {(e.timestamp_ms, e.raw) for e in events}
            for event in self._live_tail(query):  # some emulators replay what was shown
                key = (event.timestamp_ms, event.raw)
                if event.timestamp_ms >= newest and key not in shown:
                    shown.add(key)
                    seen.append(event)
                    yield event
        except LiveTailUnsupported:
            yield from self._poll(query, max([newest, *(e.timestamp_ms for e in seen)]), seen)

    def _filter(self, query: LogQuery, start_ms: int) -> list[LogEvent]:
        events: list[tuple[str, LogEvent]] = []
        for function in query.functions:
            kwargs: dict[str, Any] = {"logGroupName": self.groups[function], "startTime": start_ms}
            if query.filter_text:
                kwargs["filterPattern"] = f'"{query.filter_text}"'
            try:
                for page in self.client.get_paginator("filter_log_events").paginate(**kwargs):
                    events += [(e["eventId"], _event(e, function)) for e in page["events"]]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise  # no group yet: the function never ran
        events.sort(key=lambda pair: pair[1].timestamp_ms)
        return [e for _, e in events if query.matches(e)]

    def _poll(self, query: LogQuery, since_ms: int, seen: list[LogEvent]) -> Iterator[LogEvent]:
        """FilterLogEvents from the newest timestamp seen, skipping what was already shown."""
        shown = {(e.timestamp_ms, e.raw) for e in seen if e.timestamp_ms >= since_ms}
        while True:
            self._sleep(self._poll_seconds)
            for event in self._filter(query, since_ms):
                key = (event.timestamp_ms, event.raw)
                # older than asked for: some endpoints (moto 5.2.5) ignore startTime
                if event.timestamp_ms >= since_ms and key not in shown:
                    shown.add(key)
                    yield event
            newest = max((t for t, _ in shown), default=since_ms)
            shown = {k for k in shown if k[0] >= newest}
            since_ms = newest

    def _live_tail(self, query: LogQuery) -> Iterator[LogEvent]:
        labels = {self._arn(group): f for f, group in self.groups.items() if f in query.functions}
        kwargs: dict[str, Any] = {"logGroupIdentifiers": list(labels)}
        if query.filter_text:
            kwargs["logEventFilterPattern"] = f'"{query.filter_text}"'
        while True:  # a session times out after 3 hours: start another
            try:
                stream = self.client.start_live_tail(**kwargs)["responseStream"]
            except ClientError as exc:
                if no_such_action(exc):
                    raise LiveTailUnsupported from None
                raise
            except (NotImplementedError, EndpointConnectionError):  # moto in-process; no host
                raise LiveTailUnsupported from None
            try:
                for item in stream:
                    for result in item.get("sessionUpdate", {}).get("sessionResults", []):
                        function = labels.get(result.get("logGroupIdentifier", ""), "")
                        event = _event(result, function)
                        if query.matches(event):
                            yield event
            except EventStreamError as exc:
                if exc.response.get("Error", {}).get("Code") != "SessionTimeoutException":
                    raise
                continue  # AWS's three hours are up
            raise LiveTailUnsupported  # ended on its own: a snapshot, not a stream

    def _arn(self, group: str) -> str:
        reply = self.client.describe_log_groups(logGroupNamePrefix=group)
        match = next((g for g in reply["logGroups"] if g["logGroupName"] == group), None)
        return str(match["arn"]).removesuffix(":*") if match else group


def _event(raw: dict[str, Any], function: str) -> LogEvent:
    source = str(raw.get("logStreamName", ""))
    return parse_line(str(raw["message"]), function, int(raw["timestamp"]), source)
