"""Parsing a vote rate: ``20000``, ``20000/s``, ``20k/s``, ``1.2M/min``, ``72M/h`` -> votes/s."""

from __future__ import annotations

import re

__all__ = ["RATE_HINT", "SHARE_HINT", "parse_rate", "parse_share"]

RATE_HINT = "a rate looks like 20000/s, 20k/s, 1.2M/min or 72M/h (votes; /s if no unit)"

_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmM]?)\s*(?:/\s*(s|sec|min|h|hr))?\s*$")
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6}
_PER = {None: 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
SHARE_HINT = "a share looks like 10%, 2.5% or 0.1 (a fraction of the votes, 0-100 %)"
_SHARE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*$")


def parse_rate(text: str) -> float:
    """Votes per second; ValueError (with a message naming the problem) if not a positive rate."""
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"cannot read {text!r} as a rate")
    number, suffix, per = match.groups()
    rate = float(number) * _SUFFIX[suffix.lower()] / _PER[per]
    if rate <= 0:
        raise ValueError(f"the rate must be above zero, got {text!r}")
    return rate


def parse_share(text: str) -> float:
    """A fraction 0..1 from ``10%`` or ``0.1``; ValueError naming the problem otherwise."""
    match = _SHARE.match(text)
    if not match:
        raise ValueError(f"cannot read {text!r} as a share")
    value = float(match.group(1)) / (100 if match.group(2) else 1)
    if value > 1:
        raise ValueError(f"a share is at most 100 %, got {text!r}")
    return value
