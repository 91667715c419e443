"""The rules for the free-text ids of a vote (user_id, title_id): what they may hold.

A ``user_id`` is a subject: kept exactly as sent, never rewritten (a token's ``sub`` is an
opaque, case-sensitive string, RFC 7519 4.1.2; two issuers' spellings are two people), so the
body's user_id and a token's sub follow one rule. A ``title_id`` is stripped of surrounding
whitespace and NFC-normalised, so two spellings of one title are one identity. Either is
refused (never rewritten) if it is empty, all whitespace, over ``MAX_ID_CHARS`` characters, or
holds a character a person cannot see or that a queue cannot carry:

- control characters (Cc), format characters (Cf: zero-width spaces and joiners, bidi
  overrides, the BOM), line and paragraph separators, spaces other than U+0020, private-use,
  unassigned and surrogate code points (``str.isprintable`` is false for all of them), and a
  few letters that render as blanks (Hangul fillers, the braille blank);
- anything outside the characters an SQS message may contain (#x9 | #xA | #xD | #x20-#xD7FF |
  #xE000-#xFFFD | #x10000-#x10FFFF: the SendMessage API reference), so U+FFFE and U+FFFF,
  which the local queue could store but SQS would refuse after the 202.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_ID_CHARS", "identifier", "subject"]

MAX_ID_CHARS = 128

# Letters (category Lo) that render as nothing: printable to Python, invisible to people.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _sqs_allows(ch: str) -> bool:
    code = ord(ch)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _refusal(ch: str) -> str | None:
    """Why ``ch`` may not be part of an id, or None if it may."""
    if not _sqs_allows(ch):
        return f"U+{ord(ch):04X} is not a character an SQS message can carry"
    if ch in _BLANK_LETTERS or not ch.isprintable():
        category = unicodedata.category(ch)
        kind = "control" if category == "Cc" else "invisible or format"
        return f"must not contain {kind} characters (U+{ord(ch):04X})"
    return None


def identifier(field: str, value: str) -> str:
    """``value`` stripped and NFC-normalised; ValueError("<field>: ...") if it is no id."""
    stripped = value.strip()
    plain = stripped is value and value.isascii() and value.isprintable()
    if plain and 0 < len(value) <= MAX_ID_CHARS:
        return value  # the common case, checked in C
    return _checked(field, unicodedata.normalize("NFC", stripped), "after stripping whitespace")


def subject(field: str, value: str) -> str:
    """``value`` itself, byte for byte; ValueError("<field>: ...") if it cannot be stored."""
    plain = value.isascii() and value.isprintable() and 0 < len(value) <= MAX_ID_CHARS
    if plain and not value.isspace():
        return value  # the common case, checked in C
    if value.isspace():
        raise ValueError(f"{field}: must not be only whitespace")
    return _checked(field, value, "")


def _checked(field: str, value: str, how: str) -> str:
    if not value or len(value) > MAX_ID_CHARS:
        raise ValueError(f"{field}: must be 1-{MAX_ID_CHARS} characters {how}".rstrip())
    for ch in value:
        refusal = _refusal(ch)
        if refusal is not None:
            raise ValueError(f"{field}: {refusal}")
    return value
