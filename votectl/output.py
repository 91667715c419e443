"""The one place that prints: Rich tables for people on stdout, ``--json`` for scripts.

Progress, warnings and errors go to stderr so that stdout stays data.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["err", "out", "emit", "table", "warn", "fail_line"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def emit(payload: dict[str, Any], human: Any, as_json: bool) -> None:
    """Print ``payload`` as one JSON document, or ``human`` (a Rich renderable) for people."""
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")
        sys.stdout.flush()
    else:
        out.print(human)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}")


def fail_line(message: str, hint: str | None) -> None:
    """The one line (plus hint) the CLI boundary prints for a known error."""
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err.print(f"[dim]hint:[/] {hint}", soft_wrap=True)
