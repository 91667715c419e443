"""How many gateway processes `votectl up` runs when not told (votectl/local/serve.py)."""

from __future__ import annotations

import pytest

from votectl.local.serve import default_workers


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (4, 2), (8, 4), (64, 4)])
def test_half_the_cores_one_to_four(cores: int, workers: int) -> None:
    assert default_workers(cores) == workers
