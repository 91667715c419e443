"""Write request units per vote, as DynamoDB bills them on each write path.

A vote item is well under 1 KB, so each write call on it costs one unit, and a conditional
write whose condition is false still consumes its unit (DynamoDB developer guide, "DynamoDB
read and write operations", conditional writes:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).

- ``partiql`` (the default): an INSERT, and on DuplicateItem a conditional UPDATE. A first vote
  costs 1; a re-vote (or a stale vote) 2: the failed INSERT and the UPDATE; a redelivered vote
  that is already stored 2 more: the failed INSERT and the failed UPDATE.
- ``classic``: one conditional UpdateItem (create, or replace an older vote): 1 for any vote,
  re-vote or not; a redelivery 1 more (its condition fails).

So units per vote = 1 + re-vote share (PartiQL only) + redelivery share x (2 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_REDELIVERY_SHARE", "DEFAULT_REVOTE_SHARE", "WriteUnits"]

DEFAULT_REVOTE_SHARE = 0.10  # the capacity benchmark's own batch holds 10 % re-votes
DEFAULT_REDELIVERY_SHARE = 0.01  # stored votes written again (a batch back whole, SQS duplicates)


@dataclass(frozen=True)
class WriteUnits:
    path: str  # "partiql" | "classic"
    revote_share: float  # of all votes: a later vote of a stored (user, title, aspect)
    redelivery_share: float  # of all votes: written again after they were stored

    @property
    def parts(self) -> dict[str, float]:
        """Units per vote by cause; they sum to ``per_vote``."""
        partiql = self.path == "partiql"
        return {
            "first write": 1.0,
            "re-votes": self.revote_share if partiql else 0.0,
            "redeliveries": self.redelivery_share * (2.0 if partiql else 1.0),
        }

    @property
    def per_vote(self) -> float:
        return sum(self.parts.values())

    def formula(self) -> str:
        """The figure as a user checks it, e.g. ``1 + 0.10 + 2 x 0.01 = 1.12``."""
        if self.path == "partiql":
            terms = f"1 + {self.revote_share:.2f} re-votes + 2 x {self.redelivery_share:.2f}"
        else:
            terms = f"1 (re-votes too) + 1 x {self.redelivery_share:.2f}"
        return f"{terms} redeliveries = {self.per_vote:.3f} WRU per vote ({self.path})"

    def to_json(self) -> dict[str, Any]:
        return {
            "write_path": self.path,
            "revote_share": self.revote_share,
            "redelivery_share": self.redelivery_share,
            "per_vote": round(self.per_vote, 4),
            "parts": {k: round(v, 4) for k, v in self.parts.items()},
        }
