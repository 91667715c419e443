"""How the commands present themselves in --help.

typer 0.29 prints a type after every option, flags included (``--quiet <bool>``,
``--help <bool>``, ``--chaos <list[str]>``). A flag takes no value, so it shows none; a
repeatable option shows what one value looks like (its own ``metavar``, else ``VALUE``).
``Group`` is the root command's class: parsing the root (which comes first on every command
line) fixes the whole tree once, help options included.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup, TyperOption

__all__ = ["Group"]


class Group(TyperGroup):
    _tidied = False

    def get_params(self, ctx: Any) -> list[Any]:
        if not self._tidied:
            self._tidied = True
            _tidy(self, ctx)
        return super().get_params(ctx)


def _tidy(command: Any, ctx: Any) -> None:
    help_option = command.get_help_option(ctx)  # built once per command and cached by click
    for param in [*command.params, *([help_option] if help_option else [])]:
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        elif param.multiple:
            param.metavar = "VALUE"
    for sub in getattr(command, "commands", {}).values():
        _tidy(sub, ctx)
