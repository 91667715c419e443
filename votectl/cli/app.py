"""The root command and the error boundary: known errors become one line plus a hint."""

from __future__ import annotations

import sys
from importlib import import_module

import click
import typer

from votectl import __version__
from votectl.errors import VotectlError
from votectl.output import fail_line

__all__ = ["app", "main"]

app = typer.Typer(
    name="votectl",
    help="Run, load-test, deploy and operate the vote-ingestion pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

# Each module registers its commands on ``app``; the order is the order of --help.
_COMMAND_MODULES = ("local", "token", "ops", "loadtest", "aws")


def _version(value: bool) -> None:
    if value:
        print(f"votectl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
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
    except click.exceptions.Abort:
        fail_line("interrupted", None)
        return _exit(130)
    except KeyboardInterrupt:
        fail_line("interrupted", None)
        return _exit(130)
    except click.ClickException as exc:
        exc.show()
        return _exit(exc.exit_code)
    except VotectlError as exc:
        if debug:
            raise
        fail_line(str(exc), exc.hint)
        return _exit(exc.exit_code)
    except Exception as exc:  # an unexpected bug: one line, never local variables
        if debug:
            raise
        fail_line(
            f"unexpected {type(exc).__name__}: {exc}", "run again with --debug for the traceback"
        )
        return _exit(1)
    return _exit(rv if isinstance(rv, int) else 0)


def _exit(code: int) -> int:
    sys.exit(code)
