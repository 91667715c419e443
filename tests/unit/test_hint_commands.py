"""Every `votectl ...` command that a hint, error or help text names exists (a hint that sends a
user to `votectl peek` when the command is `votectl queue peek` is a dead end)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from votectl.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"`votectl ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def _named() -> set[tuple[str, str]]:
    found = set()
    for path in sorted((ROOT / "votectl").rglob("*.py")):
        for match in NAMED.finditer(path.read_text()):
            found.add((str(path.relative_to(ROOT)), match.group(1)))
    return found


def _resolves(words: list[str]) -> bool:
    """Whether the words name a command: a group's next word must be one of its commands."""
    command: Any = typer.main.get_command(app)
    for word in words:
        commands = getattr(command, "commands", None)  # a group (typer vendors its click)
        if commands is None:
            return True  # a command's argument, not a command
        if word not in commands:
            return False
        command = commands[word]
    return getattr(command, "commands", None) is None or len(words) == 1


def test_the_sweep_sees_the_source_and_tells_dead_ends() -> None:
    assert ("votectl/errors.py", "up") in _named()
    assert _resolves(["queue", "peek"]) and _resolves(["results", "tt1"])
    assert not _resolves(["peek"]) and not _resolves(["queue", "drain"])


def test_every_command_a_message_names_exists() -> None:
    dead = sorted(
        f"{path}: `votectl {words}`" for path, words in _named() if not _resolves(words.split())
    )
    assert dead == []
