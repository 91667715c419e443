"""The root command and the error boundary: known errors become one line plus a hint.

Usage errors are click's (typer 0.29 vendors click as ``typer._click``): its own message, exit 2.
``votectl`` alone, or a command group alone (``votectl queue``), prints the help on stdout and
exits 0, as ``votectl --help`` does (docker, kubectl and gh do the same; click 8.2 would exit 2).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import typer
import typer.main
from typer._click.exceptions import NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError

from votectl import __version__
from votectl.cli.help import Group
from votectl.errors import VotectlError
from votectl.output import disable_color, fail_line

__all__ = ["app", "main"]

app = typer.Typer(
    name="votectl",
    cls=Group,
    help="Run, load-test, deploy and operate the vote-ingestion pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)

# Each module registers its commands on ``app``; the order is the order of --help.
_COMMAND_MODULES = (
    "local", "token", "status", "ops", "observe", "loadtest", "aws", "canary", "plan",
)  # fmt: skip


def _version(value: bool) -> None:
    if value:
        print(f"votectl {__version__}")
        raise typer.Exit()


def _no_color(value: bool) -> None:
    if value:
        disable_color()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
    no_color: bool = typer.Option(
        False,
        "--no-color",
        callback=_no_color,
        is_eager=True,
        help="No colours (also: the NO_COLOR environment variable).",
    ),
) -> None:
    """Run, load-test, deploy and operate the vote-ingestion pipeline."""


for _name in _COMMAND_MODULES:
    try:
        import_module(f"votectl.cli.{_name}").register(app)
    except ModuleNotFoundError as _exc:  # a command group still being written
        if _exc.name != f"votectl.cli.{_name}":
            raise


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        rv = app(args=args, prog_name="votectl", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        fail_line("interrupted", None)
        return _exit(130)
    except NoArgsIsHelpError as exc:  # Rich help is printed already; the narrow one is here
        if exc.message.strip():
            print(exc.message)
        return _exit(0)
    except ClickUsageError as exc:
        fail_line(exc.format_message(), _root_flag_hint(args) or _usage_hint(exc.ctx))
        return _exit(exc.exit_code)
    except typer.TyperException as exc:  # click's other errors (FileError, ...)
        fail_line(exc.format_message(), None)
        return _exit(exc.exit_code)
    except VotectlError as exc:
        if debug:
            raise
        hint = exc.hint
        if "votectl COMMAND" in hint:  # only then the command tree is walked (some ms)
            hint = hint.replace("votectl COMMAND", _command_path(args))
        fail_line(str(exc), hint)
        return _exit(exc.exit_code)
    except Exception as exc:  # an unexpected bug: one line, never local variables
        if debug:
            raise
        fail_line(
            f"unexpected {type(exc).__name__}: {exc}", "run again with --debug for the traceback"
        )
        return _exit(1)
    if rv == 130:  # typer turns Ctrl-C into Exit(130) itself, before the handler above
        fail_line("interrupted", None)
    return _exit(rv if isinstance(rv, int) else 0)


def _command_path(args: list[str]) -> str:
    """The command ``args`` name (``votectl queue peek``): the words that are commands, in
    order, so a usage hint names the command's own --help, not a placeholder."""
    words = ["votectl"]
    command: Any = typer.main.get_command(app)
    for arg in args:
        commands = getattr(command, "commands", None)  # a group
        if commands is None or arg not in commands:
            if commands is not None and arg.startswith("-"):
                continue  # the root's own options (--debug, --no-color)
            break
        words.append(arg)
        command = commands[arg]
    return " ".join(words)


ROOT_FLAGS = ("--debug", "--no-color")


def _root_flag_hint(args: list[str]) -> str | None:
    """``votectl status --debug``: the root's own flags go before the command."""
    words = _command_path(args).split()[1:]
    if not words:
        return None
    at = args.index(words[0])
    flag = next((a for a in args[at + 1 :] if a in ROOT_FLAGS), None)
    if flag is None:
        return None
    fixed = [*args[:at], flag, *(a for a in args[at:] if a != flag)]
    return f"{flag} goes before the command: `votectl {' '.join(fixed)}`"


def _usage_hint(ctx: Any) -> str:
    if ctx is None:
        return "see `votectl --help`"
    usage = ctx.get_usage().strip().removeprefix("Usage: ")
    return f"usage: {usage}; see `{ctx.command_path} --help`"


def _exit(code: int) -> int:
    sys.exit(code)
