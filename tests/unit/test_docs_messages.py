"""The error lines Troubleshooting quotes are lines votectl prints: each quoted message's fixed
words appear in votectl's source (a page that quotes botocore's "Unable to locate credentials"
when votectl says "no AWS credentials found" sends a reader searching for the wrong line)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
OTHERS = {  # printed by another program, not by votectl
    "requires a different Python": "pip",
    "votectl: command not found": "the shell",
}
PLACEHOLDER = re.compile(r"'[^']*'|\([^)]*\)|\bPATH\b|\bTITLE\b|votectl\.toml")


def quoted() -> list[str]:
    """Each entry whose bold title is one code span: a message as printed."""
    return re.findall(r"^- \*\*`([^`]+)`\*\*", PAGE.read_text(), re.M)


def test_the_page_quotes_messages() -> None:
    assert "no AWS credentials found" in quoted() and len(quoted()) >= 4


def test_every_quoted_message_is_one_votectl_prints() -> None:
    source = " ".join(p.read_text() for p in (ROOT / "votectl").rglob("*.py"))
    missing = [
        (message, fragment)
        for message in quoted()
        if message not in OTHERS
        for fragment in (f.strip() for f in PLACEHOLDER.split(message))
        if fragment and fragment not in source
    ]
    assert missing == []
