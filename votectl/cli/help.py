"""How the commands present themselves in --help.

typer 0.29 prints a type after every option, flags included (``--quiet <bool>``,
``--help <bool>``, ``--chaos <list[str]>``). A flag takes no value, so it shows none; a
repeatable option shows what one value looks like (its own ``metavar``, else ``VALUE``).
``Group`` is the root command's class: parsing the root (which comes first on every command
line) fixes the whole tree once, help options included.

Below ``NARROW_COLUMNS`` Rich's option panels cut names (``--max-failure-rat…``) and break
sentences mid-phrase; there the help is one record per block instead: the option's names and
value on a line, its help under it, wrapped at word boundaries to the terminal's width, never
a word cut.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

from typer._click.core import Context
from typer._click.formatting import HelpFormatter
from typer.core import TyperGroup, TyperOption

__all__ = ["NARROW_COLUMNS", "Group"]

NARROW_COLUMNS = 100


class _BlockFormatter(HelpFormatter):
    """click's help, each definition (option, command) as a block: the term on its own line,
    its text indented under it, wrapped at spaces only."""

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2):  # type: ignore[override]  # noqa: ARG002
        width = max(self.width - self.current_indent - 4, 16)
        for term, text in rows:
            self.write(f"{'':>{self.current_indent}}{_coloured(term)}\n")
            for line in _words(text, width):
                self.write(f"{'':>{self.current_indent + 4}}{line}\n")

    def write_text(self, text: str) -> None:
        width = max(self.width - self.current_indent, 16)
        for n, paragraph in enumerate(text.split("\n\n")):
            self.write("\n" if n else "")
            for line in _words(paragraph, width):
                self.write(f"{'':>{self.current_indent}}{line}\n")


def _coloured(term: str) -> str:
    """An option or command name in bold cyan, where stdout takes colours (as Rich decides:
    a terminal or FORCE_COLOR, and neither NO_COLOR nor --no-color)."""
    from votectl.output import out

    if out.no_color or out.color_system is None:
        return term
    return f"\x1b[1;36m{term}\x1b[0m"


def _words(text: str, width: int) -> list[str]:
    """``text`` wrapped at ``width`` on spaces: a word longer than the line stays whole."""
    return textwrap.wrap(
        " ".join(text.split()), width, break_long_words=False, break_on_hyphens=False
    )


class _NarrowContext(Context):
    formatter_class = _BlockFormatter


def _columns() -> int:
    return shutil.get_terminal_size().columns  # COLUMNS first, then the terminal's


class Group(TyperGroup):
    _tidied = False

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        columns = _columns()
        if columns < NARROW_COLUMNS:
            self.context_class = _NarrowContext
            extra.setdefault("terminal_width", columns - 1)
            extra.setdefault("max_content_width", columns - 1)
            extra.setdefault("color", True)  # click keeps the ANSI; _coloured decides on it
        return super().make_context(info_name, args, parent, **extra)

    def get_params(self, ctx: Any) -> list[Any]:
        if not self._tidied:
            self._tidied = True
            _tidy(self, ctx, isinstance(ctx, _NarrowContext))
        return super().get_params(ctx)


def _tidy(command: Any, ctx: Any, narrow: bool = False) -> None:
    if narrow:  # click's own help layout, through the block formatter: no Rich panels
        command.rich_markup_mode = None
        command.context_class = _NarrowContext
        if command.help:
            command.help = _plain(command.help)
        if command.short_help is None and command.help:  # listed whole, never cut at "..."
            command.short_help = _first_sentence(command.help)
    help_option = command.get_help_option(ctx)  # built once per command and cached by click
    for param in [*command.params, *([help_option] if help_option else [])]:
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        elif param.multiple:
            param.metavar = "VALUE"
    if narrow:
        for param in command.params:
            if getattr(param, "help", None):
                param.help = _plain(param.help)
    for sub in getattr(command, "commands", {}).values():
        _tidy(sub, ctx, narrow)


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def _plain(text: str) -> str:
    """Help written for Rich markup, as plain text (``\\[default: x]`` is ``[default: x]``)."""
    return text.replace("\\[", "[")
