"""Each `votectl up` child's output in <data-dir>/logs/<child>.log, rotated and bounded
(5 files x 10 MB per child), and read back as log events for `votectl logs`.

The supervisor starts every child through ``child_main``, which points the child's
``sys.stdout``/``sys.stderr`` at a rotating stream before the child's code runs.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from votectl.logevents import LogEvent, LogQuery, parse_line

__all__ = ["LOG_BACKUPS", "LOG_BYTES", "child_main", "read_logs"]

LOG_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 4  # the live file and 4 rotated ones
# which children's logs hold which function's lines
_CHILDREN = {"receiver": "gateway-*", "processor": "processor", "writer": "writer"}


_HANDLER_LINE = '{"timestamp"'  # lambdas/log.py's lines: their time is in them
_STAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (.*)$", re.DOTALL)


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def _unstamped(line: str) -> tuple[int | None, str]:
    """(the time a stamped line was written in ms, the line without it); (None, line) if the
    line carries no stamp (a handler's JSON line, or a file from before stamps)."""
    match = _STAMPED.match(line)
    if match is None:
        return None, line
    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    return int(at.timestamp() * 1000), match.group(2)


class _RotatingWriter(io.TextIOBase):
    """A text stream into ``path`` that rotates it at ``max_bytes`` (``path.1`` .. ``path.N``).

    Not logging's RotatingFileHandler: through it a line cost about 25 us (a LogRecord, a
    formatter, a tell() and a flush per line; see benchmarks/log_capture.py), which at the
    gateway's tens of thousands of requests a second would be most of a core. Here a write is
    buffered and flushed once per call that ends a line, so a reader (`votectl logs --follow`)
    sees whole lines at once and a killed child loses at most a partial line. Measured with
    benchmarks/log_capture.py: about 7x the lines/s of RotatingFileHandler (313k against 45k).
    """

    def __init__(self, path: Path, max_bytes: int = LOG_BYTES, backups: int = LOG_BACKUPS):
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._lock = threading.Lock()  # threads of one child share the stream
        self._file = path.open("a", encoding="utf-8", errors="replace")
        self._size = self._file.tell()
        self._line_start = True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            stamped = self._stamped(text)
            if self._size + len(stamped) > self.max_bytes and self._size:
                self._rotate()
            self._file.write(stamped)
            self._size += len(stamped)  # characters: bytes for the ASCII these lines are
            if text.endswith("\n"):
                self._file.flush()
        return len(text)

    def _stamped(self, text: str) -> str:
        """``text`` with the time it is written before each line that starts here and does not
        carry its own (the handlers' JSON lines do; a poller's warning, a traceback do not)."""
        if text.find("\n", 0, len(text) - 1) < 0:  # the usual write: a line, or part of one
            starts = self._line_start
            self._line_start = text.endswith("\n")
            if starts and not text.startswith(_HANDLER_LINE):
                return f"{_stamp(time.time())} {text}"
            return text
        parts = []
        for part in text.splitlines(keepends=True):
            if self._line_start and not part.startswith(_HANDLER_LINE):
                part = f"{_stamp(time.time())} {part}"
            self._line_start = part.endswith("\n")
            parts.append(part)
        return "".join(parts)

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        super().close()  # flushes
        with self._lock:
            self._file.close()

    def _rotate(self) -> None:
        self._file.close()
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("a", encoding="utf-8", errors="replace")
        self._size = 0


def child_main(log_path: str, target: Callable[..., None], *args: Any) -> None:
    """A child process's entry: its output goes to ``log_path`` (rotated), then ``target`` runs."""
    path = Path(log_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = _RotatingWriter(path)
    except OSError as exc:  # no log beats no child: keep the inherited stderr
        print(
            f"votectl up: cannot keep {path.name} ({exc.strerror}); logging to stderr",
            file=sys.stderr,
        )
        target(*args)
        return
    sys.stdout = sys.stderr = stream
    try:
        target(*args)
    except Exception:  # the traceback goes to the log before it closes, then exit 1
        traceback.print_exc(file=stream)
        raise SystemExit(1) from None
    finally:
        stream.close()


def _files(logs: Path, function: str) -> list[Path]:
    """The function's log files, oldest first (``x.log.4`` .. ``x.log.1``, ``x.log``)."""
    found = []
    for live in sorted(logs.glob(f"{_CHILDREN[function]}.log")):
        rotated = [live.with_name(f"{live.name}.{n}") for n in range(LOG_BACKUPS, 0, -1)]
        found += [p for p in rotated if p.exists()] + [live]
    return found


@dataclass
class _Cursor:
    """Where reading one live log file got to (a new inode: it rotated, start again)."""

    inode: int = 0
    offset: int = 0
    last_ms: int = 0


def _read(path: Path, function: str, cursor: _Cursor) -> list[LogEvent]:
    try:
        stat = path.stat()
        if stat.st_ino != cursor.inode or stat.st_size < cursor.offset:
            cursor.inode, cursor.offset = stat.st_ino, 0
        with path.open("rb") as f:
            f.seek(cursor.offset)
            data = f.read()
    except OSError:
        return []
    complete = data[: data.rfind(b"\n") + 1]
    cursor.offset += len(complete)
    cursor.last_ms = cursor.last_ms or int(stat.st_mtime * 1000)
    events = []
    for text in complete.decode(errors="replace").splitlines():
        written_ms, line = _unstamped(text)
        event = parse_line(line, function, written_ms or cursor.last_ms, path.name)
        cursor.last_ms = event.timestamp_ms
        events.append(event)
    return events


def read_logs(
    logs: Path,
    query: LogQuery,
    follow: bool = False,
    poll_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogEvent]:
    """The query's events from the data dir's logs, interleaved by time; with ``follow``, then
    the new ones as the children write them, until interrupted."""
    cursors: dict[Path, _Cursor] = {}
    start = query.start_ms(int(time.time() * 1000))
    first = True
    while True:
        batch = []
        for function in query.functions:
            for path in _files(logs, function):
                if not first and path.suffix != ".log":
                    continue  # rotated files were read on the first pass
                cursor = cursors.setdefault(path, _Cursor())
                batch += _read(path, function, cursor)
        batch.sort(key=lambda e: e.timestamp_ms)
        yield from (e for e in batch if e.timestamp_ms >= start and query.matches(e))
        if not follow:
            return
        first = False
        sleep(poll_seconds)
