"""benchmarks/soak.py, shortened (opt-in: pytest -m soak; it mounts a tmpfs, so root only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


@pytest.mark.soak
@pytest.mark.timeout(900)
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs")
def test_a_short_soak_loses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "1.5", "--pace", "5", "--tmpfs-mb", "128"],
        capture_output=True,
        text=True,
        timeout=850,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 lost" in result.stdout
