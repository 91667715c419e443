"""`votectl demo`, the README's first command, as a user runs it."""

from __future__ import annotations

import json

from tests.functional.conftest import votectl


def test_demo_stores_every_distinct_vote_it_accepted() -> None:
    result = votectl("demo", "--seconds", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accepted"] > 100
    assert report["stored"] == report["accepted"]
    assert report["lost"] == 0
    assert report["votes_per_second"] > 0
    assert sum(a["votes"] for a in report["results"]["aspects"].values()) > 0
    assert "Traceback" not in result.stderr
