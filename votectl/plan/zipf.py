"""Title popularity as loadtests/ generate it: Zipf over a catalogue, P(rank k) ~ 1/k**s."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["DEFAULT_S", "DEFAULT_TITLES", "top_share"]

DEFAULT_TITLES = 10_000
DEFAULT_S = 1.1


@lru_cache(maxsize=32)
def top_share(titles: int = DEFAULT_TITLES, s: float = DEFAULT_S) -> float:
    """The share of all votes the most popular title gets: 1 / H(titles, s)."""
    if titles < 1 or s < 0:
        raise ValueError("titles must be >= 1 and s >= 0")
    return 1.0 / sum(k**-s for k in range(1, titles + 1))
