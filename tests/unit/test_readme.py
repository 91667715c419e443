"""README.md is a front door: short, with the install steps and first commands a newcomer
needs, and links that lead somewhere (MkDocs checks the links of docs/, not the README's)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_is_at_most_200_lines() -> None:
    assert len(README.splitlines()) <= 200


def test_the_readme_says_how_to_install_and_starts_with_the_two_first_commands() -> None:
    assert "Python 3.11 or newer" in README
    assert "$ python3 -m venv .venv" in README
    assert "$ pip install -e . && votectl demo" in README
    assert '$ pip install -e ".[dev]" && pytest' in README


def test_every_relative_link_of_the_readme_leads_to_a_file_and_heading() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#([^)\s]+))?\)", README)
    local = [(path, anchor) for path, anchor in links if "://" not in path]
    assert len(local) >= 10
    for path, anchor in local:
        target = ROOT / path
        assert target.is_file(), path
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
            assert anchor in slugs, (path, anchor)


def test_the_command_table_lists_every_command_and_only_those() -> None:
    import typer.main

    from votectl.cli.app import app

    def paths(command: object, prefix: str) -> set[str]:
        commands = getattr(command, "commands", None)  # a group
        if commands is None:
            return {prefix}
        return {p for name, sub in commands.items() for p in paths(sub, f"{prefix} {name}")}

    listed = set(re.findall(r"^\| `(votectl [a-z][a-z ]*?)(?: [A-Z_]+)*` \|", README, re.M))
    assert listed == paths(typer.main.get_command(app), "votectl")
