"""The one place that prints: Rich tables for people on stdout, ``--json`` for scripts.

Progress, warnings and errors go to stderr so that stdout stays data.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = [
    "Fitted",
    "Progress",
    "StatusLine",
    "disable_color",
    "emit",
    "emit_line",
    "err",
    "fail_line",
    "live_screen",
    "out",
    "owns_terminal",
    "table",
    "warn",
]

# Rich honours NO_COLOR (https://no-color.org) and FORCE_COLOR by itself.
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def disable_color() -> None:
    """``--no-color``: no colour here, nor in typer's help, nor in child processes."""
    os.environ["NO_COLOR"] = "1"
    out.no_color = err.no_color = True


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    caption: str | None = None,
    left: int = 1,
) -> Fitted:
    """Columns right-aligned (numbers) but the first ``left`` ones (names, text); no header
    row if every column name is empty; where the table is wider than the terminal, one record
    per block (see ``Fitted``)."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    t = Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        show_header=any(columns),  # a key/value table has no header row to show
    )
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i < left else "right")
    for row in cells:
        t.add_row(*row)
    return Fitted(t, list(columns), cells)


def _whole(markup: str) -> Text:
    """A line (the same markup as a table cell) that is never wrapped nor cut."""
    text = Text.from_markup(markup)
    text.no_wrap, text.overflow = True, "ignore"
    return text


class Fitted:
    """A table where it fits the width (its cells wrapped at spaces if need be); where even
    that would cut a word, one record per block: the row's first cell, then ``column: value``
    lines. A value (a hash, a name, a URL) is never cut nor
    broken: a line longer than the terminal is left whole for the terminal to wrap."""

    def __init__(self, table: Table, columns: list[str], rows: list[list[str]]) -> None:
        self.table, self.columns, self.rows = table, columns, rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # the narrowest the table can be with each cell wrapped at spaces: its longest words
        narrowest = Measurement.get(console, options.update_width(1_000_000), self.table).minimum
        if narrowest <= options.max_width:  # Rich wraps the cells; no word is cut
            yield self.table
            return
        if self.table.title:
            yield Text(str(self.table.title), style="italic", no_wrap=True, overflow="ignore")
        for row in self.rows:
            yield Text("")
            yield _whole(f"[bold]{row[0]}[/]")
            for name, value in zip(self.columns[1:], row[1:], strict=False):
                if value:  # an empty cell says nothing
                    yield _whole("  " + (value if name in ("", "value") else f"{name}: {value}"))
        if self.table.caption:
            yield Text("")
            yield Text(str(self.table.caption))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table)


def emit(payload: dict[str, Any], human: Any, as_json: bool, soft_wrap: bool = False) -> None:
    """Print ``payload`` as one JSON document, or ``human`` (a Rich renderable) for people;
    ``soft_wrap``: text lines are never wrapped nor cut (values a user copies, such as URLs)."""
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()
    else:
        out.print(human, soft_wrap=soft_wrap, crop=False)  # a long value is never cut


def emit_line(payload: dict[str, Any], human: Any, as_json: bool) -> None:
    """One item of a stream (`votectl logs`): a JSON line for scripts, or a renderable."""
    if as_json:
        sys.stdout.write(json.dumps(payload, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    else:
        out.print(human, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}")


def fail_line(message: str, hint: str | None) -> None:
    """The one line (plus hint) the CLI boundary prints for a known error."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err.print(f"[dim]hint:[/] {escape(hint)}", soft_wrap=True)


class StatusLine:
    """One live line on stderr (`votectl up`) while this process owns the terminal: a process in
    the background (`votectl up &`) draws nothing over the shell, and starts drawing once
    brought to the foreground (`fg`). On a non-terminal, a complete plain line every 10 s,
    never wrapped (a log reader splits on newlines, not at 80 columns)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._live: Any = None
        self._ticks = 0

    def __enter__(self) -> StatusLine:
        return self

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        if err.is_terminal:
            if not owns_terminal(err.file):
                return  # the shell's: nothing drawn, not even a refresh
            if self._live is None:
                from rich.live import Live

                # no refresh thread: a line is drawn only here, after the ownership check
                self._live = Live("", console=err, auto_refresh=False, transient=True)
                self._live.__enter__()
            self._live.update(text, refresh=True)
        elif self._ticks % 10 == 0:
            err.print(text, soft_wrap=True)
        self._ticks += 1

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)


def owns_terminal(stream: Any) -> bool:
    """Whether this process is in the foreground of ``stream``'s terminal (a job started with
    ``&``, or stopped and sent on with ``bg``, is not)."""
    try:
        return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


@contextmanager
def live_screen() -> Iterator[tuple[Callable[[Any], None], Callable[[float], bool]]]:
    """(show, wait) for a screen that refreshes: on a terminal a Rich Live screen, and
    ``wait(seconds)`` returns True when q is pressed; elsewhere each frame printed in turn."""
    if not (out.is_terminal and sys.stdin.isatty()):

        def pause(seconds: float) -> bool:
            time.sleep(seconds)
            return False

        yield out.print, pause
        return
    import termios
    import tty

    from rich.live import Live

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    def wait(seconds: float) -> bool:
        ready, _, _ = select.select([sys.stdin], [], [], seconds)
        return bool(ready) and sys.stdin.read(1).lower() == "q"

    try:
        tty.setcbreak(fd)
        with Live(console=out, screen=True, auto_refresh=False) as live:
            yield lambda renderable: live.update(renderable, refresh=True), wait
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class Progress:
    """A Rich progress bar on stderr, fed by ``update(what, done, total)``; silent if unused."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        return self

    def update(self, what: str, done: int, total: int | None) -> None:
        if self._progress is None:
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(console=err, transient=True)
            self._progress.start()
        if what not in self._tasks:
            self._tasks[what] = self._progress.add_task(what, total=total)
        self._progress.update(self._tasks[what], completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
