"""Realistic vote traffic: Zipf title popularity, varied aspects and scores, collision-free ids.

Pure standard library, so it is unit-tested without Locust.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate

__all__ = ["ASPECTS", "Vote", "VoteSource", "Zipf", "batch_json", "id_prefix"]

ASPECTS = ("overall", "story", "acting", "visuals", "sound")
# "overall" is what most people rate; the rest is a long tail, as on real review sites
_ASPECT_WEIGHTS = (5, 2, 2, 1, 1)
_SCORE_WEIGHTS = (1, 1, 2, 4, 3)


class Zipf:
    """Ranks 1..n with P(k) proportional to 1/k**s, sampled in O(log n)."""

    def __init__(self, n: int, s: float = 1.1, rng: random.Random | None = None) -> None:
        if n < 1:
            raise ValueError("a catalogue needs at least one title")
        if s < 0:
            raise ValueError("the Zipf exponent must be >= 0")
        self.n = n
        self._cum = list(accumulate(1.0 / k**s for k in range(1, n + 1)))
        self._rng = rng or random.Random()

    def probability(self, rank: int) -> float:
        before = self._cum[rank - 2] if rank > 1 else 0.0
        return (self._cum[rank - 1] - before) / self._cum[-1]

    def sample(self) -> int:
        return bisect_left(self._cum, self._rng.random() * self._cum[-1]) + 1


def id_prefix(run_id: str, worker_index: int, pid: int) -> str:
    """User ids start with this: unique per run, Locust worker and OS process."""
    return f"lt-{run_id}-w{worker_index}-p{pid}"


@dataclass(frozen=True)
class Vote:
    user_id: str
    title_id: str
    aspect: str
    score: int
    voted_at: str | None = None

    @property
    def identity(self) -> str:
        # \x1f cannot occur in a valid id (no control characters), so the join is unambiguous
        return f"{self.user_id}\x1f{self.title_id}\x1f{self.aspect}"

    def json(self) -> str:
        # ids are generated here (ASCII, no quotes), so formatting is safe and 5x faster than json
        at = f',"voted_at":"{self.voted_at}"' if self.voted_at else ""
        return (
            f'{{"user_id":"{self.user_id}","title_id":"{self.title_id}",'
            f'"aspect":"{self.aspect}","score":{self.score}{at}}}'
        )


class VoteSource:
    """Votes as people cast them: a voter rates a few popular titles, then the next voter comes.

    ``prefix`` keeps user ids disjoint between processes, so per-process distinct counts add up.
    """

    def __init__(
        self,
        prefix: str,
        titles: int = 10_000,
        zipf_s: float = 1.1,
        votes_per_voter: int = 8,
        rng: random.Random | None = None,
    ) -> None:
        self._rng = rng or random.Random()
        self._zipf = Zipf(titles, zipf_s, self._rng)
        self._prefix = prefix
        self._voters = itertools.count()
        self._votes_per_voter = votes_per_voter
        self._left = 0
        self._user = ""

    def next_user(self) -> str:
        self._user = f"{self._prefix}-{next(self._voters)}"
        self._left = self._rng.randint(1, self._votes_per_voter)
        return self._user

    def vote(self, voted_at: datetime | None = None) -> Vote:
        if self._left <= 0:
            self.next_user()
        self._left -= 1
        rng = self._rng
        return Vote(
            user_id=self._user,
            title_id=f"tt{self._zipf.sample()}",
            aspect=rng.choices(ASPECTS, _ASPECT_WEIGHTS)[0],
            score=rng.choices(range(1, 6), _SCORE_WEIGHTS)[0],
            voted_at=_rfc3339(voted_at) if voted_at else None,
        )

    def revote(self, vote: Vote, voted_at: datetime) -> Vote:
        """The same identity, a different score, a later time: the table must keep this one."""
        score = vote.score % 5 + 1
        return Vote(vote.user_id, vote.title_id, vote.aspect, score, _rfc3339(voted_at))


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def batch_json(votes: list[Vote]) -> str:
    return '{"votes":[' + ",".join(v.json() for v in votes) + "]}"
