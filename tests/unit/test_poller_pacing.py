"""The local pollers' batching window (Lambda's MaximumBatchingWindowInSeconds)."""

from __future__ import annotations

import pytest

from votectl.local.poller import BatchOutcome, PollerSpec, pause_after

SPEC = PollerSpec("writer", "/nowhere", 30.0, 3, batch_size=1000, batch_window=0.1)


@pytest.mark.parametrize(
    ("received", "elapsed", "pause"),
    [
        (10, 0.02, 0.08),  # a partial batch: gather for the rest of the window
        (999, 0.0, 0.1),
        (10, 0.25, 0.0),  # the batch took longer than the window
        (1000, 0.0, 0.0),  # a full batch: more is waiting, go on at once
        (0, 0.0, 0.0),  # nothing: the receive's long poll already waited
    ],
)
def test_a_poller_waits_out_the_window_only_after_a_partial_batch(
    received: int, elapsed: float, pause: float
) -> None:
    got = pause_after(BatchOutcome(received, received, 0), SPEC, elapsed)
    assert got == pytest.approx(pause)
