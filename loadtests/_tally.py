"""Votes accepted, counted per process and summed across Locust workers.

Each process counts the votes of its 202 responses and keeps the set of accepted vote identities.
User ids embed the run, worker and process (see ``_traffic.id_prefix``), so identities never
collide between processes and the distinct total is the plain sum of per-process counts: a
worker reports three integers, never its identities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Counts", "Tally", "Totals"]


@dataclass(frozen=True)
class Counts:
    requests: int = 0  # accepted (202) requests that carried votes
    votes: int = 0  # votes in them; a batch counts its votes
    distinct: int = 0  # distinct (user_id, title_id, aspect) among them

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.requests + other.requests,
            self.votes + other.votes,
            self.distinct + other.distinct,
        )

    def to_json(self) -> dict[str, int]:
        return asdict(self)


class Tally:
    """This process's accepted votes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._requests = 0
        self._votes = 0
        self._identities: set[str] = set()

    def accept(self, identities: list[str]) -> None:
        self._requests += 1
        self._votes += len(identities)
        self._identities.update(identities)

    def counts(self) -> Counts:
        return Counts(self._requests, self._votes, len(self._identities))


class Totals:
    """The whole run's counts: this process's plus the latest report of every worker."""

    def __init__(self, local: Tally) -> None:
        self._local = local
        self._workers: dict[str, Counts] = {}

    def reset(self) -> None:
        self._workers.clear()

    def report(self, worker: str, data: dict[str, int]) -> None:
        self._workers[worker] = Counts(**data)

    def counts(self) -> Counts:
        total = self._local.counts()
        for counts in self._workers.values():
            total = total + counts
        return total
