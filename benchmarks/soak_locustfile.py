"""The soak's Locust users: every vote a new identity, every acknowledged identity recorded.

Each Locust process appends the identities of its 202s to ``$SOAK_ACK_DIR/<pid>.acks`` (one
``user_id`` per line: the title and aspect are fixed), so benchmarks/soak.py can compare them,
one by one, with the table. It also counts answers by kind in ``<pid>.counts`` (JSON).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

ACK_DIR = Path(os.environ.get("SOAK_ACK_DIR", "."))
_prefix = f"soak-{os.environ.get('SOAK_RUN', 'r')}-{os.getpid()}"
_ids = itertools.count()
_acks = open(ACK_DIR / f"{os.getpid()}.acks", "a", buffering=1 << 16)  # noqa: SIM115
_counts: Counter[str] = Counter()
_JSON = {"content-type": "application/json"}


def _vote(user: str) -> dict[str, Any]:
    return {"user_id": user, "title_id": "soak", "aspect": "overall", "score": random.randint(1, 5)}


class Voter(FastHttpUser):
    wait_time = between(0.2, 0.5)  # about 60 requests/s for 20 users: a 10 min soak fits 512 MB

    @task
    def post(self) -> None:
        size = random.choice((1, 1, 1, 10, 50))
        users = [f"{_prefix}-{next(_ids)}" for _ in range(size)]
        body = json.dumps(_vote(users[0]) if size == 1 else {"votes": [_vote(u) for u in users]})
        with self.client.post(
            "/votes", data=body, headers=_JSON, catch_response=True, name="POST /votes"
        ) as response:
            status = response.status_code or 0
            _counts[str(status)] += 1
            _counts["votes_sent"] += size
            if status == 202:
                _acks.write("".join(u + "\n" for u in users))
                _counts["votes_acknowledged"] += size
                response.success()
            elif status == 503 or status == 0:  # chaos or a kill: retried by a real client
                response.success()
            else:
                response.failure(f"HTTP {status}")


@events.quitting.add_listener
def _save(**_: Any) -> None:
    _acks.flush()
    (ACK_DIR / f"{os.getpid()}.counts").write_text(json.dumps(_counts))
