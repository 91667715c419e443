"""The gateway's reading of receiver responses (pure functions; the ASGI app runs in
tests/functional against a real `votectl up`)."""

from __future__ import annotations

import pytest

from votectl.local.gateway import _accepted


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ('{"accepted":1,"request_id":"r1"}', 1),  # the receiver's own shape
        ('{"accepted":500,"request_id":"r2"}', 500),
        ('{"request_id":"r3","accepted":7}', 7),  # another key order: decoded
        ('{"accepted":-1,"request_id":"r4"}', -1),
        ('{"error":"x"}', 0),
        ("not json", 0),
        ("", 0),
    ],
)
def test_accepted_count_is_read_from_any_202_body(body: str, count: int) -> None:
    assert _accepted(body) == count
