"""The command lines the README and docs/ show, collected for the tests that run them.

A page shows commands in ```console blocks, one per line prefixed with "$ " (a line ending in
a backslash continues on the next). An HTML comment right before a block says how a test runs
it (docs/contributing.md, "Docs"):

    <!-- run: MODE [ARGS]; id: NAME; exit: N -->

MODE is one of ``MODES``; without a comment a block is ``shell``. ``exit`` is the status the
block's last command ends with (default 0), for a block that shows a failure. Lines of a block
that are not commands are output, allowed only where the mode compares it (``output``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODES", "ROOT", "Block", "Command", "blocks", "pages"]

ROOT = Path(__file__).resolve().parents[1]
MODES = ("shell", "up", "locust", "output", "flags", "ci", "repo")

_BLOCK = re.compile(
    r"(?:<!--\s*run:\s*(?P<run>[^>]*?)\s*-->\n)?^```console\n(?P<body>.*?)^```", re.S | re.M
)


@dataclass(frozen=True)
class Command:
    """One command (continuations joined) and the output lines the page shows after it."""

    text: str
    shown: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    page: str  # relative to the checkout
    line: int  # of the opening fence
    mode: str
    args: str  # after the mode: `up --auth jwt` gives "--auth jwt"
    id: str
    commands: tuple[Command, ...]
    exit: int = 0

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}" + (f"[{self.id}]" if self.id else "")

    @property
    def lines(self) -> list[str]:
        return [c.text for c in self.commands]


def pages() -> list[Path]:
    """README.md and every Markdown page of the docs site."""
    docs = ROOT / "docs"
    found = sorted(p for p in docs.rglob("*.md") if "hooks" not in p.relative_to(docs).parts)
    return [ROOT / "README.md", *found]


def _commands(body: str, where: str) -> tuple[Command, ...]:
    commands: list[Command] = []
    text: str | None = None
    shown: list[str] = []
    continued = False
    for raw in body.rstrip("\n").split("\n"):
        if continued:
            assert text is not None
            text = text[:-1].rstrip() + " " + raw.strip()
        elif raw.startswith("$ "):
            if text is not None:
                commands.append(Command(text, tuple(shown)))
            text, shown = raw[2:].strip(), []
        else:
            if text is None:
                raise ValueError(f"{where}: output before any '$ ' command: {raw!r}")
            shown.append(raw.rstrip())
        continued = text is not None and text.endswith("\\") and not shown
    if text is not None:
        commands.append(Command(text, tuple(shown)))
    return tuple(commands)


def _parse_run(run: str | None, where: str) -> tuple[str, str, str, int]:
    parts = [p.strip() for p in (run or "shell").split(";")]
    mode, _, args = parts[0].partition(" ")
    if mode not in MODES:
        raise ValueError(f"{where}: unknown run mode {mode!r} (one of {', '.join(MODES)})")
    options = {"id": "", "exit": "0"}
    for part in parts[1:]:
        key, _, value = part.partition(":")
        if key.strip() not in options or (key.strip() == "exit" and not value.strip().isdigit()):
            raise ValueError(f"{where}: unknown run option {part!r}")
        options[key.strip()] = value.strip()
    return mode, args.strip(), options["id"], int(options["exit"])


def blocks(page: Path | None = None) -> list[Block]:
    """Every console block of ``page``, or of every page."""
    out: list[Block] = []
    for path in [page] if page else pages():
        text = path.read_text()
        rel = str(path.relative_to(ROOT))
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("body"))
            where = f"{rel}:{line}"
            mode, args, ident, code = _parse_run(match.group("run"), where)
            commands = _commands(match.group("body"), where)
            if mode != "output" and any(c.shown for c in commands):
                raise ValueError(f"{where}: output lines in a {mode} block (only 'output' has)")
            out.append(Block(rel, line, mode, args, ident, commands, code))
    return out
