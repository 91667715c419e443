"""The CLI reference page lists every command and option of the Typer app, as rendered by the
MkDocs hook (docs/hooks/cli_reference.py) at build time."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import typer.main

from votectl.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def hook() -> ModuleType:
    path = ROOT / "docs" / "hooks" / "cli_reference.py"
    spec = importlib.util.spec_from_file_location("cli_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def every_command() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []

    def walk(command: Any, path: str) -> None:
        out.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "votectl")
    return out


def test_the_reference_lists_every_command_and_option() -> None:
    text = hook().render()
    sections = text.split("\n#")
    commands = every_command()
    assert len(commands) >= 18
    for path, command in commands:
        section = next((s for s in sections if s.lstrip("#").strip().startswith(f"`{path}`")), None)
        assert section is not None, f"no section for {path}"
        if command.help:
            assert command.help.strip().splitlines()[0] in section, path
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                assert f"`{param.name.upper()}`" in section, (path, param.name)
            for option in [*param.opts, *param.secondary_opts]:
                if option.startswith("-"):
                    assert option in section, (path, option)


def test_the_page_holds_the_marker_the_hook_replaces() -> None:
    module = hook()
    page = (ROOT / "docs" / "cli.md").read_text()
    assert module.MARKER in page
    rendered = module.on_page_markdown(page)
    assert module.MARKER not in rendered and "## `votectl up`" in rendered
    assert module.on_page_markdown("# other page") == "# other page"
