"""The CLI reference page, rendered from the Typer app at build time so it cannot drift.

MkDocs calls ``on_page_markdown`` for every page; on the page holding ``MARKER`` the marker
becomes one section per command (usage, help, every argument and option with its default),
walked from ``votectl.cli.app.app``. ``render()`` is the same text for tests.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MARKER", "commands", "on_page_markdown", "render"]

MARKER = "<!-- cli-reference -->"


def _root() -> Any:
    import typer.main

    from votectl.cli.app import app

    return typer.main.get_command(app)


def commands() -> list[tuple[str, Any, Any]]:
    """(command path, click command, click context) for the root and every subcommand,
    in --help order."""
    root = _root()
    out: list[tuple[str, Any, Any]] = []

    def walk(command: Any, path: str, parent: Any) -> None:
        ctx = command.make_context(path.split()[-1], [], parent=parent, resilient_parsing=True)
        out.append((path, command, ctx))
        for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
            walk(command.get_command(ctx, name), f"{path} {name}", ctx)

    walk(root, "votectl", None)
    return out


PIPE, ESCAPED_PIPE = "|", "\\|"
_MARKUP = re.compile(r"\[/?[a-z ]+\]")  # rich markup in help text ([bold], [/bold])


def _cell(text: str) -> str:
    """Help text for a table cell: one line, markup and rich's escapes gone, HTML escaped."""
    text = _MARKUP.sub("", " ".join(text.split())).replace("\\[", "[")
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _section(path: str, command: Any, ctx: Any) -> str:
    level = "#" * min(2 + path.count(" ") - 1, 4) if " " in path else "##"
    lines = [f"{level} `{path}`", ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += ["```text", f"{path} {usage}".rstrip(), "```", ""]
    if command.help:
        lines += [_MARKUP.sub("", command.help.strip()), ""]
    rows = []
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            required = "" if param.required else " (optional)"
            rows.append((f"`{param.name.upper()}`{required}", getattr(param, "help", "") or ""))
            continue
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        names, help_text = record
        rows.append((f"`{names.strip()}`", help_text))
    if rows:
        lines += ["| argument or option | what it does |", "|---|---|"]
        lines += [f"| {name.replace(PIPE, ESCAPED_PIPE)} | {_cell(text)} |" for name, text in rows]
        lines.append("")
    return "\n".join(lines)


def render() -> str:
    """Every command and option of ``votectl``, as Markdown."""
    return "\n".join(_section(*entry) for entry in commands())


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())
